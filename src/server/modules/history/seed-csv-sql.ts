import { type RawBuilder, sql } from 'kysely';
import { FORMULA_START_CODES } from '../../../shared/csv.js';
import type { Dialect } from '../../db/database.js';

/**
 * One seed-format CSV line (`"date";"sender";"receiver";"message";"status"` and a newline) of an
 * `outgoing` row, made by the database: csv.ts's `createSeedCsvFormatter` written again in SQL, so
 * that the rows of a large export never reach JavaScript; the tests compare every byte of both on
 * random rows, on both dialects.
 *
 * The date is the row's wall-clock time in the zone whose offsets are given (`TimeFormatter.offsets`:
 * the zone rules are Node's, whatever the database's own). A cell: `'` before a value whose first
 * character would start a formula (FORMULA_START_CODES), unless it is a plain number (csv.ts's
 * PLAIN_NUMBER, `^[+-]?\d[\dxX ]*$`; a formula character that is also a sign, a digit, then only
 * digits, x, X and spaces), then `"` doubled.
 */
export function seedCsvLine(dialect: Dialect, offsets: readonly number[]): RawBuilder<string> {
  const column = (name: string) => sql.ref(`outgoing.${name}`);
  const created = column('created_at');
  const formulaStarts = sql.join(FORMULA_START_CODES.map((c) => sql.lit(c)));
  const cell = (name: string) => {
    const x = column(name);
    const neutralised =
      dialect === 'sqlite'
        ? sql<string>`case when unicode(${x}) in (${formulaStarts}) and not (${x} glob '[+-][0-9]*' and substr(${x}, 2) not glob '*[^0-9xX ]*') then '''' || ${x} else ${x} end`
        : sql<string>`case when ascii(${x}) in (${formulaStarts}) and ${x} !~ '^[+-][0-9][0-9xX ]*$' then '''' || ${x} else ${x} end`;
    return sql<string>`replace(${neutralised}, '"', '""')`;
  };
  // The offset at each instant: the latest change at or before it (literals: one text for every slice).
  let offset = sql<number>`${sql.lit(offsets[1])}`;
  for (let i = 2; i < offsets.length; i += 2) {
    offset = sql<number>`case when ${created} >= ${sql.lit(offsets[i])} then ${sql.lit(offsets[i + 1])} else ${offset} end`;
  }
  // Whole seconds of local time since 1970 (the times are after 1970: division truncates down).
  const local = sql<number>`(${created} + ${offset}) / 1000`;
  const date =
    dialect === 'sqlite'
      ? sql<string>`strftime('%Y%m%d%H%M%S', ${local}, 'unixepoch')`
      : sql<string>`to_char(to_timestamp(${local}) at time zone 'UTC', 'YYYYMMDDHH24MISS')`;
  return sql<string>`'"' || ${date} || '";"' || ${cell('sender')} || '";"' || ${cell('receiver')} || '";"' || case when ${column('redacted_at')} is null then ${cell('message')} else '' end || '";"' || ${column('status')} || ${sql.lit('"\n')}`;
}
