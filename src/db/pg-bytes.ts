import pg from 'pg';
import { DataRowMessage, type RowDescriptionMessage } from 'pg-protocol/dist/messages.js';
import { Parser } from 'pg-protocol/dist/parser.js';

/**
 * Columns whose text reaches JavaScript as the bytes PostgreSQL sent (`PageBytes`), never decoded
 * into a string: a page's items (~29 KB of JSON built by PostgreSQL, accents and all) are copied
 * once, from the wire into the buffer the answer is sent from, with room before them for the page's
 * envelope. As a string they were decoded from UTF-8 into a two-byte string, concatenated, flattened
 * and encoded back: about 15% of the server's CPU on the received-requests page, and most of the
 * young garbage its collections copy.
 *
 * It subclasses pg-protocol's parser and replaces pg's `Connection.attachListeners`, neither of them
 * public API: pg-protocol is pinned to the exact version this was written and tested against (1.16.1),
 * and page-bytes.test.ts checks the pages byte for byte.
 *
 * The suffix, not a per-query flag: the parser sees only the wire messages, and the row description
 * names the columns of the rows that follow. Nothing else in kith names a column so.
 */
export const BYTES_SUFFIX = '$bytes';

/** Room before a field's bytes for what is sent ahead of it (a page's envelope: its links). */
export const HEAD_ROOM = 1024;
/** Room after them (a page's closing `]}`). */
export const TAIL_ROOM = 8;

/**
 * The buffers fields are copied into: kept and reused once an answer sent from one has gone out
 * (`release`). A fresh buffer per page lives outside V8's heap, and their churn (~30 KB a page) made
 * V8 run a full collection every few hundred milliseconds under load: the first Buffer path's cost.
 */
const POOLED_BYTES = 64 * 1024;
const POOL_KEEPS = 64;
const pool: Buffer[] = [];

/** A `…$bytes` field: its UTF-8 text at `buffer[start, end)`, with HEAD_ROOM and TAIL_ROOM around it, free. */
export class PageBytes {
  #released = false;

  constructor(
    readonly buffer: Buffer,
    readonly start: number,
    readonly end: number,
  ) {}

  /** The field as text (tests and fallbacks). */
  text(): string {
    return this.buffer.toString('utf8', this.start, this.end);
  }

  /**
   * Gives the buffer back for another page: only once nothing reads it any more (the answer sent
   * from it has been handed to the kernel). Never releasing is safe: the buffer is then collected.
   */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    if (this.buffer.length === POOLED_BYTES && pool.length < POOL_KEEPS) pool.push(this.buffer);
  }
}

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

/** pg-protocol's parser, keeping the fields of `…$bytes` text columns as `PageBytes`. */
class BytesParser extends ParserBase {
  /** Per column of the rows being received: whether it is read as bytes; null when none is. */
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

  /** A DataRow as pg-protocol reads it, the kept fields copied out as bytes. */
  private dataRow(offset: number, length: number, bytes: Buffer, keep: boolean[]): DataRowMessage {
    let at = offset;
    const count = bytes.readInt16BE(at);
    at += 2;
    const fields: Array<string | PageBytes | null> = new Array(count);
    for (let i = 0; i < count; i++) {
      const size = bytes.readInt32BE(at);
      at += 4;
      if (size === -1) {
        fields[i] = null;
        continue;
      }
      fields[i] = keep[i] ? copied(bytes, at, at + size) : bytes.toString('utf-8', at, at + size);
      at += size;
    }
    return new DataRowMessage(length, fields as string[]);
  }
}

/** `bytes[start, end)` copied (the parser reuses its buffer) into a buffer with room around it. */
function copied(bytes: Buffer, start: number, end: number): PageBytes {
  const size = HEAD_ROOM + (end - start) + TAIL_ROOM;
  const buffer = size <= POOLED_BYTES ? (pool.pop() ?? Buffer.allocUnsafeSlow(POOLED_BYTES)) : Buffer.allocUnsafe(size);
  bytes.copy(buffer, HEAD_ROOM, start, end);
  return new PageBytes(buffer, HEAD_ROOM, HEAD_ROOM + (end - start));
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
