import { BadRequestException } from '@nestjs/common';
import type { Request } from 'express';
import {
  hostileValueProblem,
  isAcmeChallengeRequest,
  JSON_TOO_DEEP,
  MAX_JSON_DEPTH,
  MAX_JSON_ITEMS,
} from './request-hardening';
import { IdPipe, INT4_MAX } from './validation';

const nest = (levels: number): unknown => {
  let v: unknown = 'leaf';
  for (let i = 0; i < levels; i++) v = i % 2 ? [v] : { a: v };
  return v;
};

describe('hostileValueProblem', () => {
  it('takes MAX_JSON_DEPTH levels and refuses one more, without recursion', () => {
    expect(hostileValueProblem(nest(MAX_JSON_DEPTH), '')).toBeNull();
    expect(hostileValueProblem(nest(MAX_JSON_DEPTH + 1), '')).toBe(JSON_TOO_DEEP);
    expect(hostileValueProblem(JSON.parse('['.repeat(200_000) + ']'.repeat(200_000)), '')).toBe(
      JSON_TOO_DEEP,
    );
  });

  it('names the field holding a NUL, in values and keys', () => {
    expect(hostileValueProblem({ user: { name: 'a\u0000' } }, '')).toBe(
      'user.name must not contain NUL (U+0000) characters',
    );
    expect(hostileValueProblem({ domains: ['ok', '\u0000'] }, '')).toMatch(/^domains\[1\] must not/);
    expect(hostileValueProblem({ 'a\u0000': 1 }, '')).toMatch(/property names must not contain NUL/);
  });

  it('refuses prototype keys at any depth, as JSON.parse makes them', () => {
    for (const key of ['__proto__', 'constructor', 'prototype'])
      expect(hostileValueProblem(JSON.parse(`{"a":[{"${key}":{}}]}`), '')).toBe(
        `property ${key} should not exist`,
      );
  });

  it('caps keys and items', () => {
    expect(hostileValueProblem(new Array(MAX_JSON_ITEMS).fill(1), '')).toBeNull();
    expect(hostileValueProblem(new Array(MAX_JSON_ITEMS + 1).fill(1), '')).toMatch(/at most 1000 items/);
  });
});

describe('IdPipe', () => {
  const pipe = new IdPipe();
  it('takes 1..2147483647 as a string or an already converted number', () => {
    expect(pipe.transform('1')).toBe(1);
    expect(pipe.transform(String(INT4_MAX))).toBe(INT4_MAX);
    expect(pipe.transform(42)).toBe(42);
  });
  it.each(['0', '-1', '2147483648', '99999999999999999999', '1.5', 'abc', '', ' 1'])('refuses %j', (v) => {
    expect(() => pipe.transform(v)).toThrow(BadRequestException);
  });
  it.each([0, -1, 1.5, NaN, Infinity, INT4_MAX + 1])('refuses the number %p', (v) => {
    expect(() => pipe.transform(v)).toThrow(BadRequestException);
  });
});

describe('isAcmeChallengeRequest', () => {
  const req = (method: string, path: string) => ({ method, path }) as Request;
  it('matches one token path, GET or HEAD', () => {
    expect(isAcmeChallengeRequest(req('GET', '/.well-known/acme-challenge/abc-_DEF123'))).toBe(true);
    expect(isAcmeChallengeRequest(req('HEAD', '/.well-known/acme-challenge/abc'))).toBe(true);
  });
  it.each([
    '/.well-known/acme-challenge/../../index.html',
    '/.well-known/acme-challenge/%2e%2e/index.html',
    '/.well-known/acme-challenge/..%2Findex.html',
    '/.well-known/acme-challenge/a/b',
    '/.well-known/acme-challenge/',
    '/.well-known/acme-challenge/abc/',
    '//.well-known/acme-challenge/abc',
  ])('does not match %s', (path) => {
    expect(isAcmeChallengeRequest(req('GET', path))).toBe(false);
  });
  it('does not match other methods', () => {
    expect(isAcmeChallengeRequest(req('POST', '/.well-known/acme-challenge/abc'))).toBe(false);
  });
});
