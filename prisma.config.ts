/**
 * Prisma 7 CLI configuration. Only `prisma generate` runs on these machines (the schema engine
 * binary cannot be fetched); migrations are applied by the app itself (src/store/migrate.ts).
 * Prisma 7 does not load .env: DATABASE_URL comes from the environment when a CLI command needs it.
 */
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://localhost:5432/spindle' },
});
