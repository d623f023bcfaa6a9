import pg from 'pg';
import { DataRowMessage, type RowDescriptionMessage } from 'pg-protocol/dist/messages.js';
import { Parser } from 'pg-protocol/dist/parser.js';

/**
 * Columns that reach JavaScript as the bytes PostgreSQL sent, never decoded into a string: a
 * text column whose name ends with this suffix arrives as a Buffer of its UTF-8 text (the
 * database's encoding, which kith's migrations require to be UTF8).
 *
 * Why: a list page is ~29 KB of JSON text built by PostgreSQL; node-postgres decodes every field
 * into a JS string, and the answer encodes it back to UTF-8 for the socket (after measuring its
 * length in UTF-8 once more). That round trip was ~20% of the server's CPU on the hot read; as
 * bytes, the page costs a copy. node-postgres offers no way to ask for bytes: its protocol parser
 * decodes every field with `toString('utf-8')`, and in binary result format `Result` turns that
 * string back into a Buffer (the same round trip, and wrong for bytes that are not UTF-8).
 *
 * The suffix, not a per-query flag: the parser sees only the wire messages, and the row
 * description names the columns of the rows that follow, so no state has to be kept in step with
 * the query queue. Nothing else in kith names a column so.
 */
export const BYTES_SUFFIX = '$bytes';

const DATA_ROW = 0x44; // 'D'
const ROW_DESCRIPTION = 0x54; // 'T'
const COMMAND_COMPLETE = 0x43; // 'C'
const TEXT_OID = 25;

type MessageCallback = (message: { name: string }) => void;

/** pg-protocol's parser as seen from a subclass: its packet handler is private in its types only. */
const ParserBase = Parser as unknown as new () => {
  parse(buffer: Buffer, callback: MessageCallback): void;
  handlePacket(offset: number, code: number, length: number, bytes: Buffer): { name: string };
};

/** pg-protocol's parser, keeping the fields of `…$bytes` text columns as Buffers. */
class BytesParser extends ParserBase {
  /** Per column of the rows being received: whether it is kept as bytes; null when none is. */
  private keep: boolean[] | null = null;

  override handlePacket(offset: number, code: number, length: number, bytes: Buffer): { name: string } {
    if (code === DATA_ROW && this.keep) return this.dataRow(offset, length, bytes, this.keep);
    const message = super.handlePacket(offset, code, length, bytes);
    if (code === ROW_DESCRIPTION) {
      const { fields } = message as RowDescriptionMessage;
      const keep = fields.map((f) => f.dataTypeID === TEXT_OID && f.format === 'text' && f.name.endsWith(BYTES_SUFFIX));
      this.keep = keep.includes(true) ? keep : null;
    } else if (code === COMMAND_COMPLETE) {
      this.keep = null;
    }
    return message;
  }

  /** A DataRow as pg-protocol reads it, but with the kept fields copied out as bytes. */
  private dataRow(offset: number, length: number, bytes: Buffer, keep: boolean[]): DataRowMessage {
    let at = offset;
    const count = bytes.readInt16BE(at);
    at += 2;
    const fields: Array<string | Buffer | null> = new Array(count);
    for (let i = 0; i < count; i++) {
      const size = bytes.readInt32BE(at);
      at += 4;
      if (size === -1) {
        fields[i] = null;
        continue;
      }
      // A copy: the parser reuses its buffer for the next messages.
      fields[i] = keep[i] ? Buffer.from(bytes.subarray(at, at + size)) : bytes.toString('utf-8', at, at + size);
      at += size;
    }
    return new DataRowMessage(length, fields as string[]);
  }
}

type Listening = { attachListeners(stream: NodeJS.EventEmitter): void; emit(event: string, msg: unknown): void };

/**
 * node-postgres' client, reading the wire with `BytesParser`. It replaces only
 * `Connection.attachListeners` (where pg starts its parser), with the same dispatch of messages.
 */
export class BytesClient extends pg.Client {
  constructor(config?: string | pg.ClientConfig) {
    super(config);
    const connection = (this as unknown as { connection: Listening & { _emitMessage: boolean } }).connection;
    connection.attachListeners = (stream) => {
      const parser = new BytesParser();
      stream.on('data', (buffer: Buffer) =>
        parser.parse(buffer, (msg) => {
          const eventName = msg.name === 'error' ? 'errorMessage' : msg.name;
          if (connection._emitMessage) connection.emit('message', msg);
          connection.emit(eventName, msg);
        }),
      );
    };
  }
}

/** A field of a `…$bytes` column as bytes, whichever database answered (PGlite returns text). */
export function bytesOf(value: Buffer | string | null | undefined): Buffer {
  if (value == null) return EMPTY;
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
}

const EMPTY = Buffer.alloc(0);
