import type { Lang } from '../../i18n.js';

/**
 * The API gives times as ISO 8601 in the account's timezone (`2024-05-01T10:30:00+02:00`), so the
 * wall-clock date and time are read from the text itself: no conversion in the browser's timezone.
 */
export function accountDate(iso: string, lang: Lang): string {
  const [y, m, d] = [iso.slice(0, 4), iso.slice(5, 7), iso.slice(8, 10)];
  return lang === 'fr' ? `${d}/${m}/${y}` : `${y}-${m}-${d}`;
}

export function accountTime(iso: string): string {
  return iso.slice(11, 19);
}

export function accountDateTime(iso: string, lang: Lang): string {
  return `${accountDate(iso, lang)} ${accountTime(iso)}`;
}

/** Text shown on one line in the grid: line breaks and tabs become spaces. */
export function oneLine(text: string | null): string {
  return text === null ? '' : text.replace(/[\r\n\t]+/g, ' ');
}
