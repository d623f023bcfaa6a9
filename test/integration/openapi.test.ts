import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { type Doc, openApiDocument, operationsOf, schemaCompiler } from '../helpers/openapi.js';
import { World } from '../helpers/world.js';

// The rules hold for whatever the document lists, so a route added later (without an operationId, an
// example, or with the wrong padlock) fails here without anyone listing it.

const TOKEN_REQUIRED = JSON.stringify([{ bearerAuth: [] }]);

/** The JSON bodies of an operation (request and each response), named for messages. */
function jsonBodiesOf(operation: any): Array<{ where: string; media: any }> {
  const bodies: Array<{ where: string; media: any }> = [];
  const request = operation.requestBody?.content?.['application/json'];
  if (request) bodies.push({ where: 'request body', media: request });
  for (const [status, response] of Object.entries<any>(operation.responses ?? {})) {
    const media = response.content?.['application/json'];
    if (media) bodies.push({ where: `${status} response`, media });
  }
  return bodies;
}

/**
 * What is wrong with the document: operations without an operationId (or with one used twice),
 * JSON bodies without an example, examples their own schema refuses. Empty when all is well.
 */
function problemsOf(doc: Doc): string[] {
  const problems: string[] = [];
  const { ajv, compile } = schemaCompiler(doc);
  const seen = new Map<string, string>();
  for (const { method, path, operation } of operationsOf(doc)) {
    const name = `${method.toUpperCase()} ${path}`;
    const id = operation.operationId;
    if (typeof id !== 'string' || !/^[A-Za-z][A-Za-z0-9]*$/.test(id)) problems.push(`${name}: no operationId`);
    else if (seen.has(id)) problems.push(`${name}: operationId ${id} is also ${seen.get(id)}'s`);
    else seen.set(id, name);

    for (const { where, media } of jsonBodiesOf(operation)) {
      const examples =
        media.example !== undefined
          ? [media.example]
          : Object.values<any>(media.examples ?? {}).map((e) => (e.$ref ? undefined : e.value));
      if (examples.length === 0) problems.push(`${name}: ${where} has no example`);
      const validate = compile(media.schema);
      for (const example of examples) {
        if (!validate(example))
          problems.push(`${name}: ${where} example is invalid: ${ajv.errorsText(validate.errors)}`);
      }
    }
  }
  return problems;
}

let world: World;
let doc: Doc;
before(async () => {
  world = await World.start();
  doc = await openApiDocument(world);
});
after(() => world.close());

describe('the OpenAPI document', () => {
  test('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc));
    assert.equal(validator.version, '3.1');
    assert.ok(result.valid, JSON.stringify(result.errors, null, 2));
  });

  test('every operation has its own operationId, and every JSON body an example that its schema accepts', () => {
    assert.ok(operationsOf(doc).length > 40, 'the document lists the routes');
    assert.deepEqual(problemsOf(doc), []);
  });

  test('the rules catch a missing or shared operationId, a missing example and an invalid one', () => {
    const broken = structuredClone(doc);
    const me = broken.paths['/api/v2/user/me/'].get;
    delete me.operationId;
    delete me.responses['200'].content['application/json'].example;
    broken.paths['/api/v2/user/{id}/'].get.operationId = broken.paths['/api/v2/user/'].get.operationId;
    broken.paths['/api/v2/user/connection/statuses/'].post.requestBody.content['application/json'].example = {
      users: 'all',
    };
    const problems = problemsOf(broken);
    for (const expected of [
      /^GET \/api\/v2\/user\/me\/: no operationId$/,
      /^GET \/api\/v2\/user\/me\/: 200 response has no example$/,
      /^GET \/api\/v2\/user\/\{id\}\/: operationId getAllUsers is also GET \/api\/v2\/user\/'s$/,
      /^POST \/api\/v2\/user\/connection\/statuses\/: request body example is invalid/,
    ]) {
      assert.ok(
        problems.some((p) => expected.test(p)),
        `${expected} among ${JSON.stringify(problems, null, 2)}`,
      );
    }
  });

  test('no global security: an operation requires a token exactly when the server answers 401 without one', async () => {
    assert.equal(doc.security, undefined);
    for (const { method, path, operation } of operationsOf(doc)) {
      const name = `${method.toUpperCase()} ${path}`;
      const security = operation.security ?? [];
      const required = JSON.stringify(security) === TOKEN_REQUIRED;
      if (!required) {
        // Either no requirement, or the token is optional: the empty requirement is one of the choices.
        assert.ok(
          security.length === 0 || security.some((s: object) => Object.keys(s).length === 0),
          `${name}: ${JSON.stringify(security)}`,
        );
      }
      const example = operation.requestBody?.content?.['application/json']?.example;
      const response = await world.request(method.toUpperCase(), path.replaceAll('{id}', '1'), {
        body: required ? undefined : example,
      });
      if (required) assert.equal(response.status, 401, `${name} documents a required token: ${response.text}`);
      else assert.notEqual(response.status, 401, `${name} documents no required token: ${response.text}`);
    }
  });
});
