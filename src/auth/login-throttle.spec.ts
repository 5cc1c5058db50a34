import { AppConfig } from '../config/app.config';
import { LoginThrottle } from './login-throttle';

describe('LoginThrottle', () => {
  const config = { loginMaxFailures: 5, loginFailureWindowSeconds: 900 } as AppConfig;

  it('blocks after five failures for a username, from any address, until the window passes', () => {
    const t = new LoginThrottle(config);
    for (let i = 0; i < 5; i++) t.recordFailure('Alice', `10.0.0.${i}`, 1000 + i);
    expect(t.check('alice', '10.0.0.99', 2000)).toEqual({ allowed: false, retryAfterSeconds: 899 });
    expect(t.check('bob', '10.0.0.99', 2000)).toMatchObject({ allowed: true });
    expect(t.check('alice', '10.0.0.99', 1000 + 900_000)).toMatchObject({ allowed: true });
  });

  it('blocks an address that tries many usernames', () => {
    const t = new LoginThrottle(config);
    for (let i = 0; i < 5; i++) t.recordFailure(`user${i}`, '10.1.1.1', 1000);
    expect(t.check('someone', '10.1.1.1', 1000).allowed).toBe(false);
    expect(t.check('someone', '10.1.1.2', 1000).allowed).toBe(true);
  });

  it('forgets a username after a success', () => {
    const t = new LoginThrottle(config);
    for (let i = 0; i < 4; i++) t.recordFailure('carol', `10.2.0.${i}`, 1000);
    t.recordSuccess('carol');
    t.recordFailure('carol', '10.2.0.9', 1001);
    expect(t.check('carol', '10.2.0.10', 1002).allowed).toBe(true);
  });
});

describe('LoginThrottle reservations', () => {
  const config = { loginMaxFailures: 5, loginFailureWindowSeconds: 900 } as AppConfig;

  it('counts an attempt before its password is checked, so concurrent guesses cannot pass the limit', () => {
    const t = new LoginThrottle(config);
    // Ten guesses arrive before any hash is done: only five may go on to be checked.
    const verdicts = Array.from({ length: 10 }, () => t.reserve('dave', '10.3.0.1', 1000));
    expect(verdicts.filter((v) => v.allowed)).toHaveLength(5);
    expect(verdicts.slice(5).every((v) => !v.allowed)).toBe(true);
  });

  it('a right password takes its reservation back and clears the username', () => {
    const t = new LoginThrottle(config);
    for (let i = 0; i < 4; i++) t.reserve('erin', '10.4.0.1', 1000);
    const v = t.reserve('erin', '10.4.0.1', 1001);
    if (!v.allowed) throw new Error('fifth attempt should be allowed');
    t.succeeded(v.attempt);
    // The address keeps its four failures, the username none.
    expect(t.check('erin', '10.4.0.2', 1002).allowed).toBe(true);
    expect(t.reserve('someone', '10.4.0.1', 1002).allowed).toBe(true);
    expect(t.check('someone-else', '10.4.0.1', 1002).allowed).toBe(false);
  });

  it('an attempt the database could not decide does not count', () => {
    const t = new LoginThrottle(config);
    for (let i = 0; i < 10; i++) {
      const v = t.reserve('frank', '10.5.0.1', 1000 + i);
      if (!v.allowed) throw new Error(`attempt ${i} throttled`);
      t.release(v.attempt);
    }
    expect(t.check('frank', '10.5.0.1', 2000).allowed).toBe(true);
  });
});
