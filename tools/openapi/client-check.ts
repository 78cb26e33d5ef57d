// Proves that a TypeScript client can be written against docs/openapi.json.
//
// `make verify-openapi` generates ./generated/otto.d.ts from the document with
// openapi-typescript, then type-checks this file (and the generated one) with
// `tsc --noEmit --strict`. Nothing here runs. It only references operations that are
// meant to stay (/api/v1/calls, /api/v1/calls/{id}, /api/v1/messages, /health) and never builds an API
// object from a literal, so new paths, new optional fields and new responses don't
// break it; a removed or retyped field that a client reads does.

import type { components, paths } from "./generated/otto";

type Schemas = components["schemas"];
export type Problem = Schemas["Problem"];
export type CallView = Schemas["CallView"];

// The body of one response, whatever its media type: poem-openapi writes
// `application/json; charset=utf-8` for JSON and `application/problem+json` for problems.
type Body<R> = R extends { content: infer C } ? C[keyof C] : never;
type Response<Op, Status extends number> = Op extends { responses: infer R }
  ? Status extends keyof R
    ? Body<R[Status]>
    : never
  : never;

type ListCalls = paths["/api/v1/calls"]["get"];
type GetCall = paths["/api/v1/calls/{id}"]["get"];
type GetHealth = paths["/health"]["get"];
type UpdateCall = paths["/api/v1/calls/{id}"]["patch"];
type SendMessage = paths["/api/v1/messages"]["post"];

export type ListCallsQuery = NonNullable<ListCalls["parameters"]["query"]>;
export type ListCallsOk = Response<ListCalls, 200>;
export type GetCallPath = GetCall["parameters"]["path"];
export type GetCallOk = Response<GetCall, 200>;
export type GetCallNotFound = Response<GetCall, 404>;
export type HealthOk = Response<GetHealth, 200>;
export type UpdateCallBody = Body<NonNullable<UpdateCall["requestBody"]>>;
export type UpdateCallOk = Response<UpdateCall, 200>;
export type SendMessageAccepted = Response<SendMessage, 202>;
export type SendMessageOptedOut = Response<SendMessage, 409>;

// Compile-time equality: each operation answers with the schema a client expects.
type Equal<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(): T | void {}
assertType<Equal<ListCallsOk, Schemas["CallPage"]>>();
assertType<Equal<GetCallOk, Schemas["CallDetailView"]>>();
assertType<Equal<UpdateCallOk, CallView>>();
assertType<Equal<SendMessageAccepted, Schemas["FollowUpAccepted"]>>();
assertType<Equal<SendMessageOptedOut, Problem>>();
assertType<Equal<GetCallNotFound, Problem>>();
assertType<Equal<HealthOk, Schemas["Health"]>>();
// The generated types are real types, not `any` (which would make every check above moot).
// @ts-expect-error a CallView is not a Problem
assertType<Equal<CallView, Problem>>();

export class ProblemError extends Error {
  constructor(readonly problem: Problem) {
    const fields = (problem.errors ?? []).map((e) => `${e.field}: ${e.message}`);
    super(`${problem.status} ${problem.title}: ${problem.detail} [${problem.trace_id}]${fields.length ? ` (${fields.join("; ")})` : ""}`);
  }
}

async function getJson<T>(url: URL, token: string): Promise<T> {
  const res = await fetch(url, { headers: { accept: "application/json", authorization: `Bearer ${token}` } });
  if (!res.ok) throw new ProblemError((await res.json()) as Problem);
  return (await res.json()) as T;
}

export function listCalls(base: string, token: string, query: ListCallsQuery = {}): Promise<ListCallsOk> {
  const url = new URL("/api/v1/calls", base);
  if (query.cursor !== undefined) url.searchParams.set("cursor", query.cursor);
  if (query.limit !== undefined) url.searchParams.set("limit", String(query.limit));
  if (query.answered !== undefined) url.searchParams.set("answered", String(query.answered));
  if (query.q !== undefined) url.searchParams.set("q", query.q);
  return getJson<ListCallsOk>(url, token);
}

export function getCall(base: string, token: string, path: GetCallPath): Promise<GetCallOk> {
  return getJson<GetCallOk>(new URL(`/api/v1/calls/${encodeURIComponent(path.id)}`, base), token);
}

/** Marks a call booked for an appointment, leaving its other outcome fields alone. */
export async function markBooked(base: string, token: string, id: string, appointmentAt: string): Promise<UpdateCallOk> {
  const body: UpdateCallBody = { booked: true, appointment_at: appointmentAt };
  const res = await fetch(new URL(`/api/v1/calls/${encodeURIComponent(id)}`, base), {
    method: "PATCH",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new ProblemError((await res.json()) as Problem);
  return (await res.json()) as UpdateCallOk;
}

/** Every call of the tenant, following `next_cursor` page by page. */
export async function* allCalls(base: string, token: string): AsyncGenerator<CallView> {
  let cursor: string | undefined;
  do {
    const page = await listCalls(base, token, { cursor, limit: 100 });
    yield* page.items;
    cursor = page.next_cursor;
  } while (cursor !== undefined);
}

/** One line about a call, reading fields with the types the document gives them. */
export function describeCall(call: CallView): string {
  const seconds: number = call.duration_seconds;
  const answered: boolean = call.answered;
  const who: string = call.customer_name ?? call.customer_number ?? "unknown caller";
  return `${call.started_at} ${call.direction} ${who}: ${answered ? `${seconds}s` : "missed"}`;
}

export function isHealthy(health: HealthOk): boolean {
  return health.status === "healthy";
}

// Live events: `GET /api/v1/events` (SSE) and `/api/v1/events/ws` carry StreamMessage
// objects; a client narrows them by `type` and gets each event's own fields.
export type StreamMessage = Schemas["StreamMessage"];
type StreamEvents = Body<paths["/api/v1/events"]["get"]["responses"][200]>;
assertType<Equal<StreamEvents, StreamMessage[]>>();
export type EventTicket = Response<paths["/api/v1/events/tickets"]["post"], 201>;
assertType<Equal<EventTicket, Schemas["EventStreamTicket"]>>();

/** What a screen does with one message of the stream (exhaustive over `type`). */
export function describeEvent(message: StreamMessage): string {
  switch (message.type) {
    case "call.created":
      return `new call ${message.call_id} (#${message.id})`;
    case "call.updated":
      return `call ${message.call_id}: ${message.changed.join(", ")}`;
    case "message.received":
    case "message.sent":
      return `${message.type} ${message.message_id} …${message.customer_number_last4}`;
    case "message.failed":
      return `message job ${message.job_id} failed`;
    case "follow_up.scheduled":
    case "follow_up.failed":
      return `${message.type} ${message.kind} ${message.job_id}`;
    case "follow_up.sent":
      return `follow-up ${message.kind} sent`;
    case "webhook.failed":
      return `${message.provider} ${message.route} delivery ${message.delivery_id} failed`;
    case "resync":
      return `refetch, then resume after ${message.id}`;
    case "close": {
      const reason: string = message.reason;
      return `server closed the stream: ${reason}`;
    }
    default: {
      const unknown: never = message;
      return unknown;
    }
  }
}
