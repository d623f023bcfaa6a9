import { sql } from 'kysely';
import type { Database } from '../db/database.js';
import { AppError } from '../domain/errors.js';
import {
  coercePreference,
  findPreference,
  orderPreferences,
  PREFERENCES,
  type PreferenceDefinition,
  type PreferenceOrdering,
  type PreferenceValue,
} from '../domain/preferences.js';

export interface PreferenceItem {
  id: number;
  section: string;
  name: string;
  value: PreferenceValue;
}

/** Inserts the default of every stored preference that has no row yet. */
export async function ensureDefaults(db: Database) {
  const stored = PREFERENCES.filter((p) => !p.derived);
  await db
    .insertInto('dynamic_preferences')
    .values(stored.map((p) => ({ id: p.id, section: p.section, name: p.name, value: JSON.stringify(p.default) })))
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
}

async function currentValues(db: Database): Promise<Map<string, PreferenceValue>> {
  const rows = await db.selectFrom('dynamic_preferences').select(['name', 'value']).execute();
  const values = new Map<string, PreferenceValue>(PREFERENCES.map((p) => [p.name, p.default]));
  for (const row of rows) values.set(row.name, row.value as PreferenceValue);
  return values;
}

function present(definitions: readonly PreferenceDefinition[], values: Map<string, PreferenceValue>): PreferenceItem[] {
  return definitions.map((p) => ({
    id: p.id,
    section: p.section,
    name: p.name,
    value: p.derived ? p.derived(values) : (values.get(p.name) ?? p.default),
  }));
}

export interface PreferenceFilter {
  section?: string | undefined;
  search?: string | undefined;
  keys?: string | undefined;
  ordering?: PreferenceOrdering | undefined;
}

/** All preferences matching the filters, in id order (configurations first) unless `ordering` says otherwise. */
export async function listPreferences(db: Database, filter: PreferenceFilter): Promise<PreferenceItem[]> {
  let definitions = PREFERENCES;
  if (filter.keys !== undefined) {
    const wanted = new Set(
      filter.keys
        .split(',')
        .map((k) => k.trim())
        .filter(Boolean),
    );
    definitions = definitions.filter((p) => wanted.has(`${p.section}.${p.name}`) || wanted.has(p.name));
  }
  if (filter.section !== undefined) definitions = definitions.filter((p) => p.section === filter.section);
  if (filter.search) {
    const needle = filter.search.toLowerCase();
    definitions = definitions.filter((p) => p.name.includes(needle) || p.section.includes(needle));
  }
  return present(orderPreferences(definitions, filter.ordering), await currentValues(db));
}

export async function getPreference(db: Database, id: number): Promise<PreferenceItem | undefined> {
  const definition = PREFERENCES.find((p) => p.id === id);
  if (!definition) return undefined;
  return present([definition], await currentValues(db))[0];
}

/** Applies a body keyed by preference name (or section.name); all or nothing. */
export async function patchPreferences(db: Database, body: Record<string, unknown>) {
  const errors: Record<string, string[]> = {};
  const updates: Array<{ definition: PreferenceDefinition; value: PreferenceValue }> = [];
  for (const [key, raw] of Object.entries(body)) {
    const definition = findPreference(key);
    if (!definition) {
      errors[key] = ['Unknown preference.'];
      continue;
    }
    if (definition.derived) {
      errors[key] = ['This preference is read-only.'];
      continue;
    }
    const coerced = coercePreference(definition, raw);
    if (coerced.ok) updates.push({ definition, value: coerced.value });
    else errors[key] = [coerced.error];
  }
  if (Object.keys(errors).length > 0) {
    throw new AppError(400, 'invalid', `Invalid preferences: ${Object.keys(errors).join(', ')}.`, { errors });
  }
  if (updates.length === 0) throw new AppError(400, 'invalid', 'The body names no preference to update.');
  await db.transaction().execute(async (tx) => {
    for (const { definition, value } of updates) {
      await tx
        .insertInto('dynamic_preferences')
        .values({ id: definition.id, section: definition.section, name: definition.name, value: JSON.stringify(value) })
        .onConflict((oc) => oc.column('id').doUpdateSet({ value: sql`excluded.value` }))
        .execute();
    }
  });
  const values = await currentValues(db);
  const result: Record<string, PreferenceItem & { type: string }> = {};
  for (const { definition } of updates) {
    const [item] = present([definition], values);
    if (item) result[definition.name] = { ...item, type: definition.type };
  }
  return result;
}
