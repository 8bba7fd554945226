// Turns the services' OpenAPI documents (one JSON object, service name to document, on stdin:
// `python -m ems.openapi`) into one TypeScript file per service in OUT_DIR.
//   node generate.mjs OUT_DIR          write the files (and remove those of services gone)
//   node generate.mjs --check OUT_DIR  write nothing; exit 1 when a file would change
// `make api-types` runs the first, `make test` the second.

import { readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import openapiTS, { astToString } from 'openapi-typescript'

const args = process.argv.slice(2)
const check = args[0] === '--check'
const outDir = check ? args[1] : args[0]
if (!outDir) {
  console.error('usage: node generate.mjs [--check] OUT_DIR < openapi.json')
  process.exit(2)
}

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const documents = JSON.parse(Buffer.concat(chunks).toString('utf8'))
const wanted = new Map()
for (const [service, document] of Object.entries(documents)) {
  const header =
    `// The ${service} service's API, generated from its OpenAPI by \`make api-types\`: do not edit.\n` +
    `// Friendly names for these types are in ../types.ts.\n\n`
  wanted.set(`${service}.ts`, header + astToString(await openapiTS(document, { silent: true, defaultNonNullable: false })))
}

const present = existsSync(outDir) ? readdirSync(outDir).filter((name) => name.endsWith('.ts')) : []
const stale = present.filter((name) => !wanted.has(name))
const changed = [...wanted].filter(([name, text]) => !present.includes(name) || readFileSync(join(outDir, name), 'utf8') !== text)

if (check) {
  const differ = [...stale, ...changed.map(([name]) => name)]
  if (differ.length > 0) {
    console.error(`${outDir}: ${differ.join(', ')} out of date with the services' OpenAPI: run \`make api-types\` and commit`)
    process.exit(1)
  }
  console.log(`${outDir}: the API types match the services' OpenAPI (${wanted.size} services)`)
} else {
  mkdirSync(outDir, { recursive: true })
  for (const name of stale) rmSync(join(outDir, name))
  for (const [name, text] of changed) writeFileSync(join(outDir, name), text)
  console.log(`${outDir}: ${changed.length} written, ${stale.length} removed, ${wanted.size - changed.length} unchanged`)
}
