import { Type } from 'typebox';
import { SEARCH_ORDER_FIELDS } from '../../domain/users.js';
import { OrderingParam, PageQuery } from './common.js';

const Term = (description: string) => Type.Optional(Type.String({ maxLength: 255, description }));

export const SearchQuery = Type.Object({
  ...PageQuery.properties,
  user: Term(
    'Search in username and real name (case- and accent-insensitive); username and real_name are ignored then',
  ),
  search: Term('The same as user (the name the user list and the SDK use)'),
  username: Term('Search in the username only'),
  real_name: Term('Search in the real name only'),
  ordering: OrderingParam(SEARCH_ORDER_FIELDS),
});

/** Comma-separated member ids, as SelfCommunity's UserAutocomplete sends the members already chosen. */
const IdList = Type.String({ pattern: '^(\\d{1,10}(,\\d{1,10})*)?$', maxLength: 2000 });

export const AutocompleteQuery = Type.Object({
  search: Term('Search in username and real name'),
  user: Term('The same as search'),
  exclude: Type.Optional({ ...IdList, description: 'Member ids to leave out, comma-separated' }),
  limit: Type.Optional(Type.Integer({ minimum: 1, description: 'How many members (default 20, at most 100)' })),
});

export const MatchBody = Type.Array(Type.String({ minLength: 1, maxLength: 255 }), { maxItems: 100 });

export const SuggestionQuery = PageQuery;
