import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { beforeAll, expect, it } from 'vitest';
import { describeEachDialectWithApp } from './app.js';

/** Sends `head` (the request line and headers, as bytes) over a real socket; the whole answer as text. */
function raw(port: number, head: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(head));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', reject);
  });
}

const requestOf = (target: string) => Buffer.from(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`, 'latin1');

describeEachDialectWithApp('a request that is not valid HTTP', (ctx) => {
  let port: number;
  beforeAll(async () => {
    await ctx.app.listen({ port: 0, host: '127.0.0.1' });
    port = (ctx.app.server.address() as AddressInfo).port;
  });

  it('answers http2sms a KO in its text format that says to URL-encode the parameters (an ISO-8859-1 é sent raw)', async () => {
    const answer = await raw(port, requestOf('/cgi-bin/sms/http2sms.cgi?account=a&login=b&password=c&from=X&to=1&message=caf\xe9'));
    const [head, body] = answer.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 400 /);
    expect(head.toLowerCase()).toContain('content-type: text/plain; charset=utf-8');
    expect(body).toBe('KO\nThe address holds characters that are not URL-encoded: encode every parameter value (é is %C3%A9 in UTF-8)');
  });

  it('answers http2sms in the format its contentType asks for, status 202 (invalid parameter)', async () => {
    const answer = await raw(
      port,
      requestOf('/cgi-bin/sms/http2sms.cgi?contentType=text%2Fjson&account=a&login=b&password=c&from=X&to=1&message=caf\xe9'),
    );
    const [head, body] = answer.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 400 /);
    expect(head.toLowerCase()).toContain('content-type: text/json; charset=utf-8');
    expect(JSON.parse(body)).toEqual({ status: 202, message: expect.stringContaining('not URL-encoded') });
  });

  it('answers the API the JSON error of its catalogue', async () => {
    const answer = await raw(port, requestOf('/api/v1/accounts/sms-x/outgoing?q=caf\xc3\xa9'));
    const [head, body] = answer.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(body)).toEqual({
      error: { code: 'VALIDATION_FAILED', message: expect.stringContaining('not URL-encoded') },
    });
    // And goes on serving.
    const after = await fetch(`http://127.0.0.1:${port}/api/v1/auth/me`);
    expect(after.status).toBe(401);
  });
});
