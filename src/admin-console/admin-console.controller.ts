import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Controller, Get, NotFoundException, Param, Req, Res } from '@nestjs/common';
import { ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { ApiErrors } from '../common/openapi';
import type { Response } from 'express';
import { PAGE_CSP, publicDir } from '../common/public-files';
import type { LiveRequest } from '../auth/auth.types';
import { displayName } from '../auth/user.entity';

/** The console's own files: a fixed list, so nothing a client sends reaches the file system. */
const ASSETS: Record<string, string> = {
  'admin.js': 'text/javascript; charset=utf-8',
  'admin.css': 'text/css; charset=utf-8',
  'login.js': 'text/javascript; charset=utf-8',
  'two-factor.js': 'text/javascript; charset=utf-8',
  'chat-rooms.js': 'text/javascript; charset=utf-8',
  'tokens.js': 'text/javascript; charset=utf-8',
  'vpn.js': 'text/javascript; charset=utf-8',
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, body: string, script?: string): string {
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>${escapeHtml(title)} · live admin</title>
    <link rel="stylesheet" href="/admin/assets/admin.css" />
    ${script ? `<script type="module" src="/admin/assets/${script}"></script>` : ''}
  </head>
  <body>
${body}
  </body>
</html>
`;
}

/**
 * `GET /admin/`: the staff console. Anonymous visitors get the login form, logged-in non-staff a 403
 * page, staff the console, which then works only through the same REST endpoints (same CSRF and
 * staff rules) as any other client.
 */
@ApiTags('admin console')
@Controller('admin')
export class AdminConsoleController {
  @Get()
  @ApiOperation({ summary: 'The staff console (HTML): login form, 403 page for non-staff, or the console' })
  @ApiProduces('text/html')
  console(@Req() req: LiveRequest, @Res() res: Response): void {
    res.setHeader('Content-Security-Policy', PAGE_CSP);
    res.setHeader('Cache-Control', 'no-store');
    res.type('html');
    const user = req.currentUser;
    if (!user) {
      res.status(200).send(
        page(
          'Log in',
          `<main class="narrow">
  <h1>live admin</h1>
  <form id="login" class="card">
    <label>Username <input name="username" autocomplete="username" required /></label>
    <label>Password <input name="password" type="password" autocomplete="current-password" required /></label>
    <button type="submit">Log in</button>
    <p id="error" class="error" role="alert" hidden></p>
  </form>
</main>`,
          'login.js',
        ),
      );
      return;
    }
    if (!user.isStaff) {
      res.status(403).send(
        page(
          'Forbidden',
          `<main class="narrow">
  <h1>403 — staff only</h1>
  <p class="card">You are logged in as <strong>${escapeHtml(displayName(user))}</strong>, who is not staff.
  The admin console is for staff members. <a href="/">Back to the chat</a>.</p>
</main>`,
        ),
      );
      return;
    }
    res.status(200).send(
      page(
        'Console',
        `<header class="top">
  <strong>live admin</strong>
  <nav id="tabs" aria-label="Sections">
    <a href="#users">Users</a><a href="#certs">Certificates</a><a href="#vpn">VPN</a><a href="#alerts">Alerts</a><a href="#chat">Chat</a>
    <a href="#lockouts">Lockouts</a>
    <a href="#tokens">Tokens</a>
    <a href="#two-factor">Two-factor</a>
  </nav>
  <span class="me">${escapeHtml(displayName(user))} <button id="logout" type="button">Log out</button></span>
</header>
<p id="flash" class="flash" role="status" hidden></p>
<main id="view" class="view" aria-live="polite"></main>`,
        'admin.js',
      ),
    );
  }

  @Get('assets/:file')
  @ApiOperation({ summary: 'The console’s script and stylesheet (a fixed list of files)' })
  @ApiErrors(404)
  async asset(@Param('file') file: string, @Res() res: Response): Promise<void> {
    const type = Object.hasOwn(ASSETS, file) ? ASSETS[file] : undefined;
    const dir = publicDir();
    if (!type || !dir) throw new NotFoundException('No such file');
    const body = await readFile(join(dir, 'admin', file));
    res.setHeader('Content-Type', type);
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.send(body);
  }
}
