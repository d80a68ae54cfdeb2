import { useEffect, useState } from 'react';
import type { DailyCounts, StatsResponse } from '../../../shared/stats.js';
import { accountPath, api, isAbort } from '../../api.js';
import { useI18n } from '../../i18n.js';

/** How long a view stays before its chart is asked for. */
const STATS_DELAY_MS = 250;

const SERIES = [
  { key: 'delivered', className: 'bar-delivered' },
  { key: 'sent', className: 'bar-sent' },
  { key: 'failed', className: 'bar-failed' },
] as const;

/** The statuses drawn together as "others". */
const OTHERS = ['pending', 'expired', 'canceled'] as const;

function others(day: DailyCounts): number {
  return day.pending + day.expired + day.canceled;
}

/**
 * A day's counts as its bar's title tells them: every status drawn, then each of the "others" that
 * has any, so that the figures add up to the day's whole count.
 */
function dayCounts(day: DailyCounts): { key: (typeof SERIES)[number]['key'] | (typeof OTHERS)[number]; value: number }[] {
  return [
    ...SERIES.map((s) => ({ key: s.key, value: day[s.key] })),
    ...OTHERS.filter((key) => day[key] > 0).map((key) => ({ key, value: day[key] })),
  ];
}

/** Messages per day by status for the filtered period, above the history (`GET …/stats`). */
export function StatsChart({ account, query, ready }: { account: string; query: Record<string, string>; ready: boolean }) {
  const { t, n, lang } = useI18n();
  /** The counts shown, and the account and filter they are of: another sort of the same view keeps them. */
  const [shown, setShown] = useState<{ of: string; stats: StatsResponse } | null>(null);
  const [failed, setFailed] = useState(false);
  const key = JSON.stringify(query);
  const wanted = `${account} ${key}`;
  const stats = shown?.stats ?? null;

  // biome-ignore lint/correctness/useExhaustiveDependencies: the key stands for the query
  useEffect(() => {
    // Asked once the view's first rows are there (the history comes first) and the view has stayed a
    // moment: counting a period costs the server far more than a page, for views passed through too.
    // A new sort of the filter shown asks nothing (the counts do not depend on the order).
    if (!ready || shown?.of === wanted) return;
    const abort = new AbortController();
    const timer = setTimeout(() => {
      api
        .get<StatsResponse>(accountPath(account, '/stats'), query, abort.signal)
        .then((s) => {
          setShown({ of: wanted, stats: s });
          setFailed(false);
        })
        .catch((error) => {
          if (!isAbort(error)) setFailed(true);
        });
    }, STATS_DELAY_MS);
    return () => {
      clearTimeout(timer);
      abort.abort();
    };
  }, [account, key, ready, shown?.of]);

  if (failed) return <p className="chart-unavailable muted">{t('chart.unavailable')}</p>;
  if (!stats) return <div className="chart chart-placeholder" aria-hidden="true" />;

  const days = stats.days;
  const totals = days.map((d) => d.delivered + d.sent + d.failed + others(d));
  const max = Math.max(1, ...totals);
  const sum = totals.reduce((a, b) => a + b, 0);
  const width = 720;
  const height = 96;
  const gap = days.length > 60 ? 0 : 2;
  const barWidth = Math.max(1, width / Math.max(1, days.length) - gap);
  const dayLabel = (day: string) => (lang === 'fr' ? `${day.slice(8, 10)}/${day.slice(5, 7)}/${day.slice(0, 4)}` : day);

  return (
    <figure className="chart">
      <figcaption>
        <strong>{t('chart.title')}</strong>{' '}
        <span className="muted">{t('chart.period', { from: dayLabel(stats.from), to: dayLabel(stats.to) })}</span>
        <span className="muted"> · {t('chart.total', { n: sum })}</span>
        <span className="legend">
          {SERIES.map((s) => (
            <span key={s.key}>
              <i className={s.className} aria-hidden="true" /> {t(`status.${s.key}`)}
            </span>
          ))}
          <span>
            <i className="bar-other" aria-hidden="true" /> {t('chart.other')}
          </span>
        </span>
      </figcaption>
      <svg
        viewBox={`0 0 ${width} ${height}`}
        preserveAspectRatio="none"
        role="img"
        aria-label={`${t('chart.title')}: ${t('chart.total', { n: sum })}`}
      >
        {days.map((day, i) => {
          const x = i * (barWidth + gap);
          let y = height;
          const parts = [
            ...SERIES.map((s) => ({ className: s.className, value: day[s.key] })),
            { className: 'bar-other', value: others(day) },
          ];
          return (
            <g key={day.day}>
              <title>{`${dayLabel(day.day)} — ${dayCounts(day)
                .map((c) => `${t(`status.${c.key}`)} ${n(c.value)}`)
                .join(', ')}`}</title>
              {parts.map((p) => {
                if (p.value === 0) return null;
                const h = (p.value / max) * (height - 2);
                y -= h;
                return <rect key={p.className} className={p.className} x={x} y={y} width={barWidth} height={h} />;
              })}
              <rect className="bar-hit" x={x} y={0} width={barWidth + gap} height={height} />
            </g>
          );
        })}
      </svg>
    </figure>
  );
}
