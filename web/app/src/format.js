// Amounts and addresses as the pages show them. ARBT has 12 decimals (runtime `UNIT`).

export const UNIT = 10n ** 12n;

/** `amount` (planck, bigint or a codec) as ARBT with up to 4 decimals. */
export function arbt(amount) {
  const v = typeof amount === 'bigint' ? amount : BigInt(amount.toString());
  const sign = v < 0n ? '-' : '';
  const a = v < 0n ? -v : v;
  const whole = a / UNIT;
  const frac = (a % UNIT).toString().padStart(12, '0').slice(0, 4).replace(/0+$/, '');
  // Amounts below 0.0001 ARBT (a bound of 1 planck, say) in the smallest unit.
  if (whole === 0n && !frac && a > 0n) return `${sign}${a.toLocaleString('en-US')} planck`;
  return `${sign}${whole.toLocaleString('en-US')}${frac ? `.${frac}` : ''} ARBT`;
}

/** A decimal ARBT amount typed by the user, in planck; throws on anything else. */
export function parseArbt(text) {
  const m = /^\s*(\d+)(?:\.(\d{0,12}))?\s*$/.exec(String(text));
  if (!m) throw new Error(`"${text}" is not an amount of ARBT`);
  return BigInt(m[1]) * UNIT + BigInt((m[2] ?? '').padEnd(12, '0'));
}

/** A Perbill (parts per billion) as a percentage. */
export function percent(parts) {
  return `${(Number(parts) / 1e7).toLocaleString('en-US', { maximumFractionDigits: 4 })} %`;
}

export function short(address) {
  const s = address.toString();
  return `${s.slice(0, 6)}…${s.slice(-4)}`;
}
