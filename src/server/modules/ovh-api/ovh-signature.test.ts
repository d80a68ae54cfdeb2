import { describe, expect, it } from 'vitest';
import {
  accessRulesProblem,
  deriveApplicationSecret,
  globMatches,
  isConsumerKey,
  ovhSignature,
  randomKey,
  ruleAllows,
  signatureMatches,
  signedUrlCandidates,
} from './ovh-signature.js';

describe('OVH request signature', () => {
  it("gives OVH's documented example signature", () => {
    expect(
      ovhSignature({
        appSecret: 'EXEgWIz07P0HYwtQDs7cNIqCiQaWSuHF',
        consumerKey: 'MtSwSrPpNjqfVSmJhLbPyr2i45lSwPU1',
        method: 'GET',
        url: 'https://eu.api.ovh.com/1.0/domain/',
        body: '',
        timestamp: '1366560945',
      }),
    ).toBe('$1$6a77f43f2871db97a029f1d1d81c4dcd3c6f7265');
  });

  it('accepts the URL as sent and the https form without the port, nothing else', () => {
    const urls = signedUrlCandidates({ protocol: 'http', host: '127.0.0.1:8080', rawUrl: '/1.0/sms?x=1' });
    expect(urls).toEqual(
      expect.arrayContaining(['http://127.0.0.1:8080/1.0/sms?x=1', 'https://127.0.0.1/1.0/sms?x=1', 'https://127.0.0.1:8080/1.0/sms?x=1']),
    );
    expect(signedUrlCandidates({ protocol: 'https', host: '[::1]:8443', rawUrl: '/1.0/me' })).toContain('https://[::1]/1.0/me');
    const input = { appSecret: 'a'.repeat(32), consumerKey: 'c'.repeat(32), method: 'POST', body: '{"x":1}', timestamp: '100' };
    const signed = ovhSignature({ ...input, url: 'https://127.0.0.1/1.0/sms?x=1' });
    expect(signatureMatches(signed, input, urls)).toBe(true);
    expect(signatureMatches(signed, { ...input, body: '{"x":2}' }, urls)).toBe(false);
    expect(signatureMatches(signed, { ...input, timestamp: '101' }, urls)).toBe(false);
    expect(signatureMatches(signed, { ...input, method: 'PUT' }, urls)).toBe(false);
    expect(signatureMatches(signed, input, ['https://127.0.0.1/1.0/sms?x=2'])).toBe(false);
    expect(signatureMatches('$1$short', input, urls)).toBe(false);
  });

  it('derives one application secret per key and server secret, of 32 letters and digits', () => {
    const a = deriveApplicationSecret('server-secret-one-0123456789abcdef', 'AAAAAAAAAAAAAAAA');
    expect(a).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(deriveApplicationSecret('server-secret-one-0123456789abcdef', 'AAAAAAAAAAAAAAAA')).toBe(a);
    expect(deriveApplicationSecret('server-secret-one-0123456789abcdef', 'AAAAAAAAAAAAAAAB')).not.toBe(a);
    expect(deriveApplicationSecret('server-secret-two-0123456789abcdef', 'AAAAAAAAAAAAAAAA')).not.toBe(a);
  });

  it('makes keys of the asked length from letters and digits', () => {
    const key = randomKey(32);
    expect(isConsumerKey(key)).toBe(true);
    expect(randomKey(16)).toMatch(/^[A-Za-z0-9]{16}$/);
    expect(isConsumerKey(`${key.slice(0, 31)}-`)).toBe(false);
  });
});

describe('access rules', () => {
  const rules = [
    { method: 'GET', path: '/sms' },
    { method: 'GET', path: '/sms/*' },
    { method: 'POST', path: '/sms/*/jobs' },
  ] as const;

  it('matches the method and the path, * standing for anything', () => {
    expect(ruleAllows(rules, 'GET', '/sms')).toBe(true);
    expect(ruleAllows(rules, 'GET', '/sms/sms-ab12345-1/outgoing/12')).toBe(true);
    expect(ruleAllows(rules, 'POST', '/sms/sms-ab12345-1/jobs')).toBe(true);
    expect(ruleAllows(rules, 'POST', '/sms/sms-ab12345-1/users/bob/jobs')).toBe(true);
    expect(ruleAllows(rules, 'POST', '/sms/sms-ab12345-1/users')).toBe(false);
    expect(ruleAllows(rules, 'DELETE', '/sms/sms-ab12345-1/outgoing/12')).toBe(false);
    expect(ruleAllows(rules, 'GET', '/me')).toBe(false);
    expect(ruleAllows(rules, 'GET', '/smsx')).toBe(false);
  });

  it('matches stars by a walk that agrees with a regular expression of .* runs, on tricky paths', () => {
    const cases: [string, string, boolean][] = [
      ['/*', '/', true],
      ['/*', '', false],
      ['/sms/*/jobs', '/sms/a/b/jobs', true],
      ['/sms/*/jobs', '/sms/a/jobsx', false],
      ['/*a*a*b', '/xaayab', true],
      ['/*a*a*b', '/xaay', false],
      [`/${'*a'.repeat(8)}b`, `/${'a'.repeat(44)}`, false],
      [`/${'*a'.repeat(8)}b`, `/${'a'.repeat(44)}b`, true],
      ['**', 'anything', true],
      ['/sms', '/sms/', false],
    ];
    for (const [pattern, text, expected] of cases) {
      expect(globMatches(pattern, text), `${pattern} ~ ${text}`).toBe(expected);
      if (pattern.split('*').length <= 4) {
        const regexp = new RegExp(
          `^${pattern
            .split('*')
            .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
            .join('.*')}$`,
        );
        expect(regexp.test(text)).toBe(expected);
      }
    }
  });

  it('reads regular-expression characters in a path literally', () => {
    expect(ruleAllows([{ method: 'GET', path: '/sms/sms-ab12345-1.x' }], 'GET', '/sms/sms-ab12345-1.x')).toBe(true);
    expect(ruleAllows([{ method: 'GET', path: '/sms/sms-ab12345-1.x' }], 'GET', '/sms/sms-ab12345-1Zx')).toBe(false);
    expect(ruleAllows([{ method: 'GET', path: '/(a|b)+' }], 'GET', '/aaa')).toBe(false);
  });

  it('says what is wrong with malformed rules', () => {
    expect(accessRulesProblem([])).toMatch(/non-empty/);
    expect(accessRulesProblem('GET /sms')).toMatch(/non-empty array/);
    expect(accessRulesProblem([{ method: 'PATCH', path: '/sms' }])).toMatch(/accessRules\[0\]\.method/);
    expect(accessRulesProblem([{ method: 'GET', path: 'sms' }])).toMatch(/accessRules\[0\]\.path/);
    expect(accessRulesProblem([{ method: 'GET', path: '/sms?x' }])).toMatch(/path/);
    expect(accessRulesProblem(Array.from({ length: 101 }, () => ({ method: 'GET', path: '/' })))).toMatch(/at most 100/);
    expect(accessRulesProblem([{ method: 'GET', path: `/${'*a'.repeat(9)}` }])).toMatch(/at most 8 \*/);
    expect(accessRulesProblem([{ method: 'GET', path: '/sms/*' }])).toBeNull();
  });
});
