import assert from 'node:assert/strict';
// Ajv and its formats come with fastify (the server validates with them too).
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { World } from './world.js';

/** The OpenAPI document as the app serves it. */
export type Doc = Record<string, any>;

export const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** One operation of the document: its method (lower case), its path template and its object. */
export interface Operation {
  method: string;
  path: string;
  operation: any;
}

/** The document the app serves at /api/v2/openapi.json. */
export async function openApiDocument(world: World): Promise<Doc> {
  const response = await world.get('/api/v2/openapi.json');
  assert.equal(response.status, 200, response.text);
  return response.body;
}

/** Every operation of the document, with its method and path. */
export function operationsOf(doc: Doc): Operation[] {
  return Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((method) => ({ method, path, operation: item[method] })),
  );
}

/** `GET /api/v2/user/{id}/`: how tables and messages name an operation. */
export const nameOf = (op: Pick<Operation, 'method' | 'path'>) => `${op.method.toUpperCase()} ${op.path}`;

/**
 * An Ajv for the document's schemas (OpenAPI 3.1 schemas are JSON Schema 2020-12; `$ref`s point
 * into the document's components), compiling each schema once.
 */
export function schemaCompiler(doc: Doc) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  const compiled = new Map<unknown, ValidateFunction>();
  return {
    ajv,
    compile(schema: unknown): ValidateFunction {
      let validate = compiled.get(schema);
      if (!validate) {
        validate = ajv.compile({ ...(schema as object), components: doc.components });
        compiled.set(schema, validate);
      }
      return validate;
    },
  };
}
