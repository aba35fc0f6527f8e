import { z } from "zod";
import { documentStatus } from "../db/schema";

// What the routes answer, as the OpenAPI document describes it (the request schemas live with
// their routes). Each mirrors its column set in db/queries.ts.

const timestamp = z.iso.datetime({ offset: true });
export const status = z.enum(documentStatus.enumValues);

export const PublicUser = z
  .object({ id: z.number().int(), name: z.string(), bio: z.string().nullable(), createdAt: timestamp, updatedAt: timestamp })
  .meta({ id: "PublicUser", description: "A profile as anyone may read it: without the email" });

export const User = PublicUser.extend({ email: z.string() }).meta({ id: "User", description: "A profile with its email: the user's own view and an admin's" });

export const Document = z
  .object({
    id: z.number().int(),
    userId: z.number().int(),
    title: z.string(),
    body: z.string(),
    status,
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .meta({ id: "Document" });

export const DocumentWithAuthor = Document.extend({ author: z.object({ id: z.number().int(), name: z.string() }) }).meta({
  id: "DocumentWithAuthor",
  description: "A document and its author's public name (which may lag a rename by CACHE_TTL_DOCUMENT_S)",
});

export const DocumentPage = z
  .object({
    items: z.array(z.object({ id: z.number().int(), title: z.string(), status, createdAt: timestamp, updatedAt: timestamp })),
    nextCursor: z.string().nullable().meta({ description: "Pass as ?cursor= for the next page; null on the last" }),
  })
  .meta({ id: "DocumentPage", description: "Newest first; list items carry no body" });

export const Flag = z
  .object({ key: z.string(), enabled: z.boolean(), value: z.unknown(), description: z.string().nullable(), updatedAt: timestamp })
  .meta({ id: "Flag" });

export const FlagList = z.object({ items: z.array(Flag) }).meta({ id: "FlagList" });

const byStatus = z.object(Object.fromEntries(documentStatus.enumValues.map((s) => [s, z.number().int()])) as Record<(typeof documentStatus.enumValues)[number], z.ZodNumber>);

export const UserStats = z
  .object({
    userId: z.number().int(),
    documents: z.object({ total: z.number().int(), byStatus }),
    lastActivityAt: timestamp.nullable().meta({ description: "When the user's newest document was created; null without documents" }),
  })
  .meta({ id: "UserStats" });

export const GlobalStats = z
  .object({
    users: z.number().int(),
    documents: z.object({ total: z.number().int(), byStatus, last24h: z.number().int() }),
    computedAt: timestamp,
  })
  .meta({ id: "GlobalStats", description: "Cached for CACHE_TTL_GLOBAL_STATS_S" });
