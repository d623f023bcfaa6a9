import { type Ordering, parseOrdering } from './ordering.js';

/** The community's dynamic preferences that kith knows, with their defaults. Ids are stable. */

/** `color` and `image` are strings with a shape the widgets need; the PATCH answer names the type, as SelfCommunity's does. */
export type PreferenceType = 'boolean' | 'string' | 'integer' | 'color' | 'image';
export type PreferenceValue = boolean | string | number;

export interface PreferenceDefinition {
  id: number;
  section: string;
  name: string;
  type: PreferenceType;
  default: PreferenceValue;
  /** Computed (from other preferences, or a constant kith imposes); never stored, never patched. */
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

const colors: Array<[string, string]> = [
  ['colorback', 'Main background colour.'],
  ['colorprimary', 'Main colour.'],
  ['colorsecondary', 'Secondary colour.'],
  ['font_color', 'Font colour.'],
  ['font_color_secondary', 'Secondary font colour.'],
  ['navbarback', 'Navbar background colour.'],
];

const logos: Array<[string, string]> = [
  ['logo_dark', 'Dark version of the logo.'],
  ['logo_light', 'Light version of the logo.'],
  ['navbar_logo', 'Logo in the navbar.'],
  ['navbar_logo_mobile', 'Logo in the navbar on mobile.'],
];

/**
 * A plain grey-blue gradient as a data URL: the widgets put the value in CSS `url('…')` on the page's own
 * origin, so a path on kith would not resolve there, and a data URL needs no route and no public address.
 */
export const DEFAULT_USER_COVER = `data:image/svg+xml,${encodeURIComponent(
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1200 300" preserveAspectRatio="none">' +
    '<defs><linearGradient id="g" x2="1" y2="1"><stop offset="0" stop-color="#90a4ae"/>' +
    '<stop offset="1" stop-color="#eceff1"/></linearGradient></defs>' +
    '<rect width="1200" height="300" fill="url(#g)"/></svg>',
)}`;

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
  {
    id: 19,
    section: 'configurations',
    name: 'user_metadata_definition',
    type: 'string',
    default: '{}',
    // UserInfo and the profile editor JSON.parse this and add one field per key. kith keeps no custom profile
    // fields (a user PATCH drops unknown ones), so any definition would offer fields that are never saved.
    derived: () => '{}',
    help: 'Custom profile fields, as JSON: none in kith, so always {}. Read-only.',
  },
  { id: 30, section: 'text', name: 'application_name', type: 'string', default: 'kith', help: 'The community name.' },
  { id: 31, section: 'text', name: 'application_slogan1', type: 'string', default: '', help: 'First slogan.' },
  { id: 32, section: 'text', name: 'application_slogan2', type: 'string', default: '', help: 'Second slogan.' },
  // Empty colours are skipped by the widgets' theme, which then keeps its own palette.
  ...colors.map(
    ([name, help], i): PreferenceDefinition => ({
      id: 40 + i,
      section: 'colors',
      name,
      type: 'color',
      default: '',
      help,
    }),
  ),
  {
    id: 50,
    section: 'images',
    name: 'user_default_cover',
    type: 'image',
    default: DEFAULT_USER_COVER,
    help: 'Cover shown for members without their own (UserProfileHeader reads it for every such member).',
  },
  ...logos.map(
    ([name, help], i): PreferenceDefinition => ({
      id: 60 + i,
      section: 'logo',
      name,
      type: 'image',
      default: '',
      help,
    }),
  ),
  {
    id: 70,
    section: 'webmaster',
    name: 'meta_robots',
    type: 'string',
    default: 'index, follow',
    help: 'Content of the robots meta tag (what an absent tag means).',
  },
  {
    id: 71,
    section: 'webmaster',
    name: 'meta_title_home_not_logged',
    type: 'string',
    default: '',
    help: 'Title of the home page for visitors who are not signed in.',
  },
  { id: 72, section: 'webmaster', name: 'meta_description', type: 'string', default: '', help: 'Meta description.' },
];

export const PREFERENCES_BY_NAME: ReadonlyMap<string, PreferenceDefinition> = new Map(
  PREFERENCES.map((p) => [p.name, p]),
);

/** The list's `ordering` values; ties (same section) keep id order. */
export const PREFERENCE_ORDER_FIELDS = ['id', 'name', 'section'] as const;
export type PreferenceOrdering = Ordering<(typeof PREFERENCE_ORDER_FIELDS)[number]>;

/** The definitions in the asked order (code-unit order for names and sections, as PostgreSQL's C collation). */
export function orderPreferences(
  definitions: readonly PreferenceDefinition[],
  ordering: PreferenceOrdering = 'id',
): PreferenceDefinition[] {
  const { column: field, descending } = parseOrdering(ordering);
  const byId = [...definitions].sort((a, b) => a.id - b.id);
  const sign = descending ? -1 : 1;
  return byId.sort((a, b) => {
    const x = a[field];
    const y = b[field];
    return x < y ? -sign : x > y ? sign : 0;
  });
}

/** Looks a preference up by `name` or by `section.name`. */
export function findPreference(key: string): PreferenceDefinition | undefined {
  const dot = key.indexOf('.');
  if (dot === -1) return PREFERENCES_BY_NAME.get(key);
  const definition = PREFERENCES_BY_NAME.get(key.slice(dot + 1));
  return definition?.section === key.slice(0, dot) ? definition : undefined;
}

const IMAGE_URL = /^(?:https?:\/\/|data:image\/)[^\s'"\\]+$/;

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
    // Hex only: the theme passes any colour its validator knows (`red` included) to MUI, which throws on names.
    case 'color':
      if (raw === '' || (typeof raw === 'string' && /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i.test(raw))) {
        return { ok: true, value: raw };
      }
      return { ok: false, error: 'Must be a hex colour (#rgb or #rrggbb), or empty.' };
    // The widgets write the value into CSS `url('…')` and `<img src>` on their own origin: an absolute URL with
    // no quote, backslash or space, which would end the CSS string.
    case 'image':
      if (raw === '' || (typeof raw === 'string' && raw.length <= 10_000 && IMAGE_URL.test(raw))) {
        return { ok: true, value: raw };
      }
      return {
        ok: false,
        error: 'Must be an http(s) or data:image/ URL without quotes, backslashes or spaces, or empty.',
      };
  }
}
