// A minimal ltijs 5.9 tool with ltijs-sequelize on PostgreSQL: a peer for benchmarks/lti_peers.py.
//
// It registers the fake platform (tests/support/platform.py) the driver runs and answers a
// verified launch with a small landing page naming the launch's role and context. ltijs does the
// rest as it does for any tool: state cookie and state row at login, id_token verification
// against the platform's JWKS, nonce kept in the database, id token and context stored, a redirect
// to the app route with an `ltik`, and the session checked on that request.
//
// Configuration (environment): LTIJS_PORT, LTIJS_WORKERS (node cluster processes, default 1),
// LTIJS_DB_HOST, LTIJS_DB_PORT, LTIJS_DB_NAME, LTIJS_DB_USER, LTIJS_DB_PASSWORD, LTIJS_KEY,
// PLATFORM_URL, PLATFORM_CLIENT_ID, PLATFORM_AUTH_URL, PLATFORM_TOKEN_URL, PLATFORM_JWKS_URL.
'use strict'

const cluster = require('node:cluster')
const lti = require('ltijs').Provider
const Database = require('ltijs-sequelize')

const env = process.env
const workers = Number(env.LTIJS_WORKERS || 1)

function database () {
  return new Database(env.LTIJS_DB_NAME || 'ltijs', env.LTIJS_DB_USER || 'steun', env.LTIJS_DB_PASSWORD || '', {
    host: env.LTIJS_DB_HOST || '127.0.0.1',
    port: Number(env.LTIJS_DB_PORT || 5432),
    dialect: 'postgres',
    logging: false
  })
}

function escape (text) {
  return String(text).replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]))
}

const ROLE = /#(\w+)$/

function landing (token) {
  const context = token.platformContext || {}
  const roles = (context.roles || []).map(r => (ROLE.exec(r) || [null, r])[1])
  const course = context.context || {}
  return '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Peer tool</title></head>' +
    '<body><h1>Launched</h1>' +
    `<p id="role">${escape(roles.join(', ') || 'no role')}</p>` +
    `<p id="context">${escape(course.title || course.id || 'no context')}</p>` +
    '</body></html>'
}

async function start (listen) {
  lti.setup(env.LTIJS_KEY || 'bench-ltijs-key', { plugin: database() }, {
    appRoute: '/',
    loginRoute: '/login',
    keysetRoute: '/keys',
    // Plain http on 127.0.0.1: cookies without Secure/SameSite=None (as ltijs' own README shows);
    // not devMode, so the state cookie and the session cookie are required.
    cookies: { secure: false, sameSite: '' },
    devMode: false
  })
  lti.onConnect((token, req, res) => res.send(landing(token)))
  if (listen) {
    await lti.deploy({ port: Number(env.LTIJS_PORT || 3000), silent: true })
  } else {
    await lti.deploy({ serverless: true, silent: true })
  }
  await lti.registerPlatform({
    url: env.PLATFORM_URL,
    name: 'Fake LMS',
    clientId: env.PLATFORM_CLIENT_ID,
    authenticationEndpoint: env.PLATFORM_AUTH_URL,
    accesstokenEndpoint: env.PLATFORM_TOKEN_URL,
    authConfig: { method: 'JWK_SET', key: env.PLATFORM_JWKS_URL }
  })
}

async function main () {
  if (workers > 1 && cluster.isPrimary) {
    // The primary creates the tables and the registration once, then serves nothing itself.
    await start(false)
    await lti.close({ silent: true })
    for (let i = 0; i < workers; i++) cluster.fork()
    const stop = () => { for (const w of Object.values(cluster.workers)) w.kill('SIGTERM') }
    process.on('SIGTERM', () => { stop(); process.exit(0) })
    process.on('SIGINT', () => { stop(); process.exit(0) })
    return
  }
  await start(true)
  process.on('SIGTERM', async () => { await lti.close({ silent: true }); process.exit(0) })
  console.log('ltijs peer listening on ' + (env.LTIJS_PORT || 3000))
}

main().catch(err => { console.error(err); process.exit(1) })
