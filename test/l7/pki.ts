/**
 * A throwaway PKI for the TLS tests, made with the `openssl` CLI (node:crypto cannot sign
 * X.509 certificates): CAs, server certificates with DNS and IP names, client certificates.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Issued {
  readonly cert: string;
  readonly key: string;
}

export class TestPki {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meridian-pki-'));
  private serial = 1000;

  /** A self-signed CA named `name`. */
  ca(name: string): Issued {
    const cert = this.file(`${name}.pem`);
    const key = this.file(`${name}.key`);
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '3650', '-subj', `/CN=${name}`]);
    return { cert, key };
  }

  /** A certificate signed by `ca` for the names given (DNS names and IP addresses), as a server or a client. */
  issue(ca: Issued, name: string, names: readonly string[], usage: 'server' | 'client' = 'server'): Issued & { serial: string } {
    const cert = this.file(`${name}.pem`);
    const key = this.file(`${name}.key`);
    const csr = this.file(`${name}.csr`);
    const ext = this.file(`${name}.ext`);
    const san = names.map((n) => (/^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
    fs.writeFileSync(ext, `${san === '' ? '' : `subjectAltName=${san}\n`}extendedKeyUsage=${usage === 'server' ? 'serverAuth' : 'clientAuth'}\n`);
    openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${name}`]);
    const serial = (this.serial++).toString(16).toUpperCase().padStart(4, '0');
    openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', `0x${serial}`, '-days', '3650', '-extfile', ext, '-out', cert]);
    return { cert, key, serial };
  }

  file(name: string): string {
    return path.join(this.dir, name);
  }

  remove(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}
