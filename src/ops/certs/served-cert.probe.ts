import { connect } from 'node:tls';
import { Injectable } from '@nestjs/common';

export interface ServedCert {
  serial: string;
  fingerprint: string;
}

/**
 * Reads the certificate a TLS server presents for `servername` (SNI). Trust is not the question here
 * (a staging or self-signed certificate is still the one deployed), so the chain is not verified.
 */
@Injectable()
export class ServedCertProbe {
  read(host: string, port: number, servername: string, timeoutMs: number): Promise<ServedCert> {
    return new Promise((resolve, reject) => {
      const socket = connect({
        host,
        port,
        servername,
        rejectUnauthorized: false,
        ALPNProtocols: ['http/1.1'],
      });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no TLS handshake within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('secureConnect', () => {
        clearTimeout(timer);
        const cert = socket.getPeerX509Certificate();
        socket.end();
        if (!cert) reject(new Error('the server presented no certificate'));
        else resolve({ serial: cert.serialNumber.toLowerCase(), fingerprint: cert.fingerprint256 });
      });
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        socket.destroy();
        reject(new Error(err.code ? `${err.code}: ${err.message}` : err.message));
      });
    });
  }
}
