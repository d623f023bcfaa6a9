import type { Database } from '../db/database.js';
import * as repo from '../db/repositories/preferences.js';
import { invalid, notFound } from '../domain/errors.js';
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
  await repo.insertMissing(
    db,
    stored.map((p) => ({ id: p.id, section: p.section, name: p.name, value: p.default })),
  );
}

async function currentValues(db: Database): Promise<Map<string, PreferenceValue>> {
  const rows = await repo.listStoredValues(db);
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

/**
 * The page of preferences matching the filters, in id order (configurations first) unless `ordering` says
 * otherwise, and how many match in all.
 */
export async function listPreferences(
  db: Database,
  filter: PreferenceFilter & { limit: number; offset: number },
): Promise<{ total: number; items: PreferenceItem[] }> {
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
  const page = orderPreferences(definitions, filter.ordering).slice(filter.offset, filter.offset + filter.limit);
  return { total: definitions.length, items: present(page, await currentValues(db)) };
}

export async function getPreference(db: Database, id: number): Promise<PreferenceItem> {
  const definition = PREFERENCES.find((p) => p.id === id);
  const [item] = definition ? present([definition], await currentValues(db)) : [];
  if (!item) throw notFound('Dynamic preference not found.');
  return item;
}

/** Applies a body keyed by preference name (or section.name); all or nothing. */
export async function patchPreferences(db: Database, body: Record<string, unknown> | null | undefined) {
  if (body === undefined || body === null) throw invalid('The body names no preference to update.');
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
  if (Object.keys(errors).length > 0) throw invalid(`Invalid preferences: ${Object.keys(errors).join(', ')}.`, errors);
  if (updates.length === 0) throw invalid('The body names no preference to update.');
  const values = await db.transaction().execute(async (tx) => {
    await repo.upsert(
      tx,
      updates.map(({ definition: { id, section, name }, value }) => ({ id, section, name, value })),
    );
    return currentValues(tx);
  });
  const result: Record<string, PreferenceItem & { type: string }> = {};
  for (const { definition } of updates) {
    const [item] = present([definition], values);
    if (item) result[definition.name] = { ...item, type: definition.type };
  }
  return result;
}
