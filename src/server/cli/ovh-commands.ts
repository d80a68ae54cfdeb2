import type { Command } from 'commander';
import { AppError } from '../errors.js';
import { SYSTEM_ACTOR } from '../modules/accounts/accounts.service.js';
import { type AccessRule, RULE_METHODS, type RuleMethod } from '../modules/ovh-api/ovh-signature.js';
import { type GlobalOptions, printResult, withContext } from './context.js';

/** The rules of a key made without --rule: the whole SMS API (`/sms` and below). */
const DEFAULT_RULES: AccessRule[] = [{ method: 'GET', path: '/sms' }, ...RULE_METHODS.map((method) => ({ method, path: '/sms/*' }))];

const VALIDITIES: Record<string, number | null> = { '1h': 3600, '1d': 86_400, '30d': 2_592_000, unlimited: null };

/** `--rule "GET /sms/*"` (repeatable); `GET|POST /sms/*` gives one rule per method. */
function parseRule(value: string, previous: AccessRule[] = []): AccessRule[] {
  const m = /^\s*([A-Za-z|]+)\s+(\/\S*)\s*$/.exec(value);
  const methods = m ? m[1].toUpperCase().split('|') : [];
  if (!m || methods.some((method) => !(RULE_METHODS as readonly string[]).includes(method))) {
    throw new AppError(
      'VALIDATION_FAILED',
      `--rule must look like "GET /sms/*" or "GET|POST /sms/*" (methods ${RULE_METHODS.join(', ')}), got "${value}"`,
    );
  }
  return [...previous, ...methods.map((method) => ({ method: method as RuleMethod, path: m[2] }))];
}

function parseValidity(value: string): string {
  if (!(value in VALIDITIES))
    throw new AppError('VALIDATION_FAILED', `--validity must be one of ${Object.keys(VALIDITIES).join(', ')}, got "${value}"`);
  return value;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** `ovh-key create|list`: keys of the OVH-compatible API (/1.0) for a customer's scripts. */
export function registerOvhCommands(program: Command): void {
  const ovh = program.command('ovh-key').description('keys of the OVH-compatible API (/1.0/sms/…) for OVH scripts and clients');
  ovh
    .command('create')
    .description('create an application and a consumer key for a customer (the three keys printed once)')
    .requiredOption('--owner <email>', 'the customer whose SMS accounts the key reaches')
    .option('--name <name>', 'the application’s name', 'script')
    .option('--rule <rule>', 'an access rule, e.g. "GET /sms/*" (repeatable; default: the whole /sms API)', parseRule)
    .option('--validity <time>', `how long the key works: ${Object.keys(VALIDITIES).join(', ')}`, parseValidity, 'unlimited')
    .option('--ip <address>', 'an address or CIDR range the key may be used from (repeatable; default: any)', collect)
    .option('--json', 'print JSON')
    .action(async (options: GlobalOptions & { owner: string; name: string; rule?: AccessRule[]; validity: string; ip?: string[] }) => {
      const rules = options.rule ?? DEFAULT_RULES;
      const made = await withContext(
        async ({ services }) => {
          // Everything checked before the application is made: a refused key leaves nothing behind.
          services.ovhKeys.checkCredentialInput({ rules, validity: VALIDITIES[options.validity], allowedIps: options.ip });
          await services.ovhKeys.checkServerSecret();
          const { application, appSecret } = await services.ovhKeys.createApplication(SYSTEM_ACTOR, {
            name: options.name,
            ownerEmail: options.owner,
          });
          const { consumerKey } = await services.ovhKeys.createCredential(SYSTEM_ACTOR, {
            applicationId: application.id,
            ownerEmail: options.owner,
            rules,
            validity: VALIDITIES[options.validity],
            allowedIps: options.ip,
          });
          return { appKey: application.appKey, appSecret, consumerKey };
        },
        { serverSecret: true },
      );
      printResult(
        options,
        { ...made, rules, validity: options.validity },
        [
          `OVH API keys for ${options.owner} (shown once; the API is under /1.0 on the HTTP and HTTPS ports):`,
          `  application key     ${made.appKey}`,
          `  application secret  ${made.appSecret}`,
          `  consumer key        ${made.consumerKey}`,
          `  rules               ${rules.map((r) => `${r.method} ${r.path}`).join(', ')}`,
          `  validity            ${options.validity}${options.ip?.length ? `, from ${options.ip.join(', ')}` : ''}`,
        ].join('\n'),
      );
    });

  ovh
    .command('list')
    .description('list a customer’s OVH API applications and consumer keys (never their secrets)')
    .requiredOption('--owner <email>', 'the customer')
    .option('--json', 'print JSON')
    .action(async (options: GlobalOptions & { owner: string }) => {
      const applications = await withContext(({ services }) => services.ovhKeys.listApplications(SYSTEM_ACTOR, options.owner));
      const iso = (ms: number) => new Date(ms).toISOString();
      printResult(
        options,
        applications.map((a) => ({ id: a.id, appKey: a.appKey, name: a.name, createdAt: iso(a.createdAt), credentials: a.credentials })),
        applications.length
          ? applications
              .map((a) => `${a.id} "${a.name}" application key ${a.appKey}, ${a.credentials} consumer key(s), created ${iso(a.createdAt)}`)
              .join('\n')
          : `No OVH API application for ${options.owner}.`,
      );
    });
}
