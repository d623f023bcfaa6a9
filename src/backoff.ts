/**
 * The wait before the next try after `failures` failures in a row: `firstMs`, doubling each time, never
 * more than `capMs`. While a dependency is down this keeps each process to one try per `capMs`; once it
 * returns, work resumes within `capMs`.
 */
export function backoffMs(failures: number, firstMs: number, capMs: number): number {
  return Math.min(capMs, firstMs * 2 ** Math.min(failures, 30));
}
