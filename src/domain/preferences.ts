/** The community's dynamic preferences that kith knows, with their defaults. Ids are stable. */

export type PreferenceType = 'boolean' | 'string' | 'integer';
export type PreferenceValue = boolean | string | number;

export interface PreferenceDefinition {
  id: number;
  section: string;
  name: string;
  type: PreferenceType;
  default: PreferenceValue;
  /** Derived from other preferences; never stored, never patched. */
  derived?: (values: ReadonlyMap<string, PreferenceValue>) => PreferenceValue;
  help: string;
}

const urlTemplates: Array<[string, string]> = [
  ['post', '/post/{id}-{slug}/'],
  ['discussion', '/discussion/{id}-{slug}/'],
  ['status', '/status/{id}-{slug}/'],
  ['comment', '/{contribution_type}/{contribution_id}-{contribution_slug}/?comment={id}'],
  ['category', '/category/{slug}/'],
  ['categories_list', '/categories/'],
  ['profile', '/u/{username}/'],
  ['profile_settings', '/settings/'],
  ['notifications', '/notifications/'],
  ['private_message', '/messages/{id}/'],
  ['incubator', '/incubator/{id}-{slug}/'],
  ['live_stream', '/live/{id}-{slug}/'],
];

export const PREFERENCES: readonly PreferenceDefinition[] = [
  {
    id: 1,
    section: 'configurations',
    name: 'follow_enabled',
    type: 'boolean',
    default: false,
    help: 'Follow mode instead of friendship (connections) mode.',
  },
  {
    id: 2,
    section: 'configurations',
    name: 'connection_enabled',
    type: 'boolean',
    default: true,
    derived: (values) => values.get('follow_enabled') !== true,
    help: 'Friendship (connections) mode: the negation of follow_enabled. Read-only.',
  },
  {
    id: 3,
    section: 'configurations',
    name: 'content_availability',
    type: 'boolean',
    default: true,
    help: 'Anonymous visitors may read public content.',
  },
  {
    id: 4,
    section: 'configurations',
    name: 'people_search_enabled',
    type: 'boolean',
    default: true,
    help: 'Members may search people.',
  },
  {
    id: 5,
    section: 'configurations',
    name: 'users_approval_enabled',
    type: 'boolean',
    default: false,
    help: 'New members need approval.',
  },
  {
    id: 6,
    section: 'configurations',
    name: 'onboarding_hidden',
    type: 'boolean',
    default: false,
    help: 'Hide the onboarding.',
  },
  ...urlTemplates.map(
    ([name, value], i): PreferenceDefinition => ({
      id: 7 + i,
      section: 'configurations',
      name: `url_template_${name}`,
      type: 'string',
      default: value,
      help: `URL template of the ${name.replaceAll('_', ' ')} page.`,
    }),
  ),
  { id: 30, section: 'text', name: 'application_name', type: 'string', default: 'kith', help: 'The community name.' },
  { id: 31, section: 'text', name: 'application_slogan1', type: 'string', default: '', help: 'First slogan.' },
  { id: 32, section: 'text', name: 'application_slogan2', type: 'string', default: '', help: 'Second slogan.' },
];

export const PREFERENCES_BY_NAME: ReadonlyMap<string, PreferenceDefinition> = new Map(
  PREFERENCES.map((p) => [p.name, p]),
);

/** Looks a preference up by `name` or by `section.name`. */
export function findPreference(key: string): PreferenceDefinition | undefined {
  const dot = key.indexOf('.');
  if (dot === -1) return PREFERENCES_BY_NAME.get(key);
  const definition = PREFERENCES_BY_NAME.get(key.slice(dot + 1));
  return definition?.section === key.slice(0, dot) ? definition : undefined;
}

/** Checks (and, from form bodies, converts) a value for a preference; returns an error sentence when it does not fit. */
export function coercePreference(
  definition: PreferenceDefinition,
  raw: unknown,
): { ok: true; value: PreferenceValue } | { ok: false; error: string } {
  switch (definition.type) {
    case 'boolean':
      if (typeof raw === 'boolean') return { ok: true, value: raw };
      if (raw === 'true' || raw === 'false') return { ok: true, value: raw === 'true' };
      return { ok: false, error: 'Must be a boolean.' };
    case 'integer': {
      const n = typeof raw === 'string' && /^-?\d+$/.test(raw) ? Number(raw) : raw;
      if (typeof n === 'number' && Number.isSafeInteger(n)) return { ok: true, value: n };
      return { ok: false, error: 'Must be an integer.' };
    }
    case 'string':
      if (typeof raw === 'string' && raw.length <= 10_000) return { ok: true, value: raw };
      return { ok: false, error: 'Must be a string of at most 10000 characters.' };
  }
}
