import { ValidateBy, ValidationArguments } from 'class-validator';

/**
 * A rule for one variable that says what is wrong in its own words (null: nothing), and may look at
 * the other variables of the same class (already converted, defaults filled in). Reported with the
 * other problems, as one line naming the variable.
 */
export function EnvRule<E extends object>(
  name: string,
  problem: (value: unknown, env: E) => string | null,
): PropertyDecorator {
  const check = (args: ValidationArguments) => problem(args.value, args.object as E);
  return ValidateBy({
    name,
    validator: {
      validate: (_value: unknown, args?: ValidationArguments) => !args || check(args) === null,
      defaultMessage: (args?: ValidationArguments) => (args && check(args)) ?? `${name} is invalid`,
    },
  });
}
