import { IsInt, Max, Min, IsIn } from 'class-validator';
import { ConfigError, printableValue, validateEnv } from './validate-env';

class SampleEnv {
  @IsInt()
  @Min(1)
  @Max(65535)
  PORT: number = 8000;

  @IsIn(['a', 'b'])
  MODE: string = 'a';
}

describe('validateEnv', () => {
  it('applies defaults and converts numbers', () => {
    expect(validateEnv(SampleEnv, {})).toMatchObject({ PORT: 8000, MODE: 'a' });
    expect(validateEnv(SampleEnv, { PORT: '9000', MODE: '' })).toMatchObject({ PORT: 9000, MODE: 'a' });
  });

  it('names the variable and what is expected', () => {
    expect(() => validateEnv(SampleEnv, { PORT: 'abc' })).toThrow(ConfigError);
    expect(() => validateEnv(SampleEnv, { PORT: '70000' })).toThrow(
      /PORT="?70000"?: PORT must not be greater than 65535/,
    );
  });
});

describe('printableValue', () => {
  it('hides secrets and masks passwords in URLs', () => {
    expect(printableValue('SECRET_KEY', 'abc')).toBe('(hidden)');
    expect(printableValue('METRICS_TOKEN', 'abc')).toBe('(hidden)');
    expect(printableValue('SMTP_PASSWORD', 'abc')).toBe('(hidden)');
    expect(printableValue('DATABASE_URL', 'postgres://live:pw@db/live')).toBe(
      '"postgres://live:***@db/live"',
    );
    expect(printableValue('PORT', 'eighty')).toBe('"eighty"');
  });

  it('reports every problem of a class, one line each', () => {
    expect(() => validateEnv(SampleEnv, { PORT: 'abc', MODE: 'c' })).toThrow(/PORT=.*\n.*MODE=/);
  });
});
