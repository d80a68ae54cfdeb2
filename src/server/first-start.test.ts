import { existsSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { describeEachDialectWithApp, testConfig } from '../../test/app.js';
import { DEMO_ACCOUNT, DEMO_EMAIL, ensureDemo } from './first-start.js';

describeEachDialectWithApp('first start', (ctx) => {
  const config = () => testConfig({ databaseUrl: ctx.database.url });
  const file = () => (ctx.dialect === 'sqlite' ? join(dirname(ctx.database.url.slice('sqlite:'.length)), 'demo-credentials.json') : null);
  afterAll(() => {
    const f = file();
    if (f) rmSync(f, { force: true });
  });

  it('fills an empty database with a demo anyone can sign in to, and does it only once', async () => {
    const demo = await ensureDemo(config(), ctx.database, ctx.app.services);
    expect(demo).toMatchObject({ email: DEMO_EMAIL, account: DEMO_ACCOUNT, smsUser: 'demo', messages: 400 });
    const signIn = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/auth/sign-in',
      payload: { email: demo!.email, password: demo!.password },
    });
    expect(signIn.statusCode).toBe(200);
    const cookie = String(signIn.headers['set-cookie']).split(';')[0];
    const history = await ctx.app.inject({ method: 'GET', url: `/api/v1/accounts/${DEMO_ACCOUNT}/outgoing/count`, headers: { cookie } });
    expect(history.json().total).toBe(400);
    const senders = await ctx.app.inject({ method: 'GET', url: `/api/v1/accounts/${DEMO_ACCOUNT}/senders`, headers: { cookie } });
    expect(JSON.stringify(senders.json())).toContain('Relais');

    // A later start changes nothing; the embedded database keeps showing the credentials from its file.
    const again = await ensureDemo(config(), ctx.database, ctx.app.services);
    expect(again).toEqual(ctx.dialect === 'sqlite' ? demo : null);
    expect(
      (await ctx.app.inject({ method: 'GET', url: `/api/v1/accounts/${DEMO_ACCOUNT}/outgoing/count`, headers: { cookie } })).json().total,
    ).toBe(400);
    if (file()) expect(existsSync(file()!)).toBe(true);
  });
});
