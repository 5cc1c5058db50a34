import { AppConfig } from '../config/app.config';
import { LoginThrottle } from './login-throttle';

describe('LoginThrottle', () => {
  const config = { loginMaxFailures: 5, loginFailureWindowSeconds: 900 } as AppConfig;

  it('blocks after five failures for a username, from any address, until the window passes', () => {
    const t = new LoginThrottle(config);
    for (let i = 0; i < 5; i++) t.recordFailure('Alice', `10.0.0.${i}`, 1000 + i);
    expect(t.check('alice', '10.0.0.99', 2000)).toEqual({ allowed: false, retryAfterSeconds: 899 });
    expect(t.check('bob', '10.0.0.99', 2000)).toEqual({ allowed: true });
    expect(t.check('alice', '10.0.0.99', 1000 + 900_000)).toEqual({ allowed: true });
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
