import type { FastifyServerOptions } from 'fastify';

/** pino options: JSON lines, pretty-printed when a person is watching a terminal. */
export function loggerOptions(level: string): FastifyServerOptions['logger'] {
  if (process.stdout.isTTY) {
    return {
      level,
      transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname' } },
    };
  }
  return { level };
}
