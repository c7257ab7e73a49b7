import { Type, type Static } from '@sinclair/typebox';

/** The default health.stateFile; its folder is also where the audit file goes by default. */
export const DEFAULT_HEALTH_STATE_FILE = '.meridian-state/health.json';

/** Every knob with its type, default and bounds (as gdnsd documents them); README lists the same. */
export const ConfigSchema = Type.Object(
  {
    dns: Type.Object(
      {
        listen: Type.Array(Type.String({ description: 'ADDR:PORT; IPv6 as [::1]:5300; UDP and TCP on each' }), {
          default: ['127.0.0.1:5300', '[::1]:5300'],
          minItems: 1,
        }),
        udpPayloadSize: Type.Integer({ minimum: 512, maximum: 4096, default: 1232, description: 'EDNS UDP payload size we advertise and send up to' }),
        cacheMaxEntries: Type.Integer({ minimum: 0, maximum: 10_000_000, default: 100_000, description: 'encoded answers (and steering decisions) kept per snapshot; 0 disables the caches' }),
        workers: Type.Integer({ minimum: 1, maximum: 256, default: 1, description: 'DNS worker processes sharing the sockets (node:cluster); 1 answers in the main process' }),
        tcp: Type.Object(
          {
            idleTimeoutMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 10_000 }),
            messageTimeoutMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 5_000 }),
            maxConnections: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1_000 }),
          },
          { default: {}, additionalProperties: false },
        ),
        chaos: Type.Object(
          {
            version: Type.Union([Type.String({ maxLength: 255 }), Type.Null()], { default: null, description: 'answer to version.bind / version.server CH TXT; null refuses' }),
            identity: Type.Union([Type.String({ maxLength: 255 }), Type.Null()], { default: null, description: 'answer to id.server / hostname.bind CH TXT; null refuses' }),
          },
          { default: {}, additionalProperties: false },
        ),
      },
      { default: {}, additionalProperties: false },
    ),
    zones: Type.Object(
      {
        directory: Type.String({ default: 'zones', description: 'folder of <zone>.zone files; relative to the config file' }),
        watch: Type.Boolean({ default: true, description: 'reload changed zone files by themselves' }),
        debounceMs: Type.Integer({ minimum: 0, maximum: 60_000, default: 300 }),
      },
      { default: {}, additionalProperties: false },
    ),
    geoip: Type.Object(
      {
        location: Type.Union([Type.String({ minLength: 1 }), Type.Null()], {
          default: 'geoip/geo-whois-asn-country.mmdb',
          description: 'MMDB with locations: GeoIP2/GeoLite2 City or Country, DB-IP, or a flat country_code DB; null: no geolocation',
        }),
        asn: Type.Union([Type.String({ minLength: 1 }), Type.Null()], { default: null, description: 'MMDB with ASNs (GeoLite2-ASN); null: none' }),
      },
      { default: {}, additionalProperties: false },
    ),
    health: Type.Object(
      {
        stateFile: Type.Union([Type.String({ minLength: 1 }), Type.Null()], {
          default: DEFAULT_HEALTH_STATE_FILE,
          description: 'where health state is kept across restarts (relative to the working folder); null: not kept',
        }),
        startupWaitMs: Type.Integer({ minimum: 0, maximum: 120_000, default: 5_000, description: 'how long start-up waits for the first probe round before serving' }),
        concurrency: Type.Integer({ minimum: 1, maximum: 10_000, default: 64, description: 'probes in flight at once, over all targets' }),
        failoverBudgetSec: Type.Integer({ minimum: 1, maximum: 86_400, default: 45, description: '`check` warns when a name may take longer to fail over' }),
      },
      { default: {}, additionalProperties: false },
    ),
    admin: Type.Object(
      {
        listen: Type.Union([Type.String({ minLength: 3 }), Type.Null()], {
          default: '127.0.0.1:5380',
          description: 'ADDR:PORT of the admin HTTP API; null: no API. Off loopback it needs a token.',
        }),
        tokens: Type.Array(
          Type.Object(
            {
              name: Type.String({ minLength: 1, maxLength: 64 }),
              token: Type.String({ minLength: 16, description: 'at least 16 characters' }),
              access: Type.Union([Type.Literal('read'), Type.Literal('write')]),
            },
            { additionalProperties: false },
          ),
          { default: [] },
        ),
        allowedHosts: Type.Array(Type.String({ minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9.:_\\[\\]-]+$' }), {
          default: [],
          description: 'without a token: Host names besides the listen address (and localhost on loopback) a browser may use',
        }),
        audit: Type.Object(
          {
            file: Type.Optional(
              Type.Union([Type.String({ minLength: 1 }), Type.Null()], {
                description: 'JSON lines, one per change, fsynced before the 2xx (relative to the working folder); absent: audit.log beside health.stateFile; null: the log only',
              }),
            ),
            maxBytes: Type.Integer({ minimum: 4096, maximum: 2 ** 40, default: 10 * 1024 * 1024, description: 'rotate when the file would grow past this' }),
            keep: Type.Integer({ minimum: 0, maximum: 1000, default: 10, description: 'rotated files kept (audit.log.1 …)' }),
          },
          { default: {}, additionalProperties: false },
        ),
      },
      { default: {}, additionalProperties: false },
    ),
    log: Type.Object(
      {
        level: Type.Union(
          [
            Type.Literal('fatal'), Type.Literal('error'), Type.Literal('warn'), Type.Literal('info'),
            Type.Literal('debug'), Type.Literal('trace'), Type.Literal('silent'),
          ],
          { default: 'info' },
        ),
      },
      { default: {}, additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;
