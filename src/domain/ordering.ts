/** The DRF `ordering` parameter: a field name, descending when it starts with `-`. Pure. */

export type Ordering<F extends string> = F | `-${F}`;

/** Every ordering value of these fields, each ascending then descending: `['id', '-id', 'name', '-name']`. */
export function orderings<const F extends string>(fields: readonly F[]): Array<Ordering<F>> {
  return fields.flatMap((field) => [field, `-${field}` as const]);
}

/** The field to order by and the direction. */
export function parseOrdering<F extends string>(ordering: Ordering<F>): { column: F; descending: boolean } {
  const descending = ordering.startsWith('-');
  return { column: (descending ? ordering.slice(1) : ordering) as F, descending };
}
