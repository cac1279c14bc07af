// The typed API client: paths, parameters and answers come from the query function's OpenAPI
// document (`npm run api-types` writes schema.d.ts from it), so an API change that breaks the
// page breaks the build.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
export type Api = ReturnType<typeof createClient<paths>>;

/** What went wrong with a request, as the page shows it. `status` 401 means the token is bad or
 * revoked; 0 means the API could not be reached. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** How many times a request is sent while the API answers 503 with `Retry-After`. */
const ASKS = 6;

/** `fetch`, asking again while the API answers 503 with `Retry-After`: storage was busy, or the
 * answer took longer than a request may (a long window made cold), and each request keeps what
 * it made, so the next carries on. */
export async function patientFetch(request: Request): Promise<Response> {
  for (let ask = 1; ; ask++) {
    const response = await fetch(request.clone());
    const wait = Number(response.headers.get("Retry-After"));
    if (response.status !== 503 || !(wait > 0) || ask === ASKS) return response;
    await new Promise((resolve) => setTimeout(resolve, wait * 1000));
  }
}

/** A client that sends the token on every request, same origin as the page. */
export function apiClient(token: string): Api {
  return createClient<paths>({
    baseUrl: window.location.origin,
    headers: { Authorization: `Bearer ${token}` },
    fetch: patientFetch,
  });
}

type Reply<T> = { data?: T; error?: unknown; response: Response };

/** The answer's data, or an [`ApiFailure`] with the API's own message. */
export async function unwrap<T>(call: Promise<Reply<T>>): Promise<T> {
  let answer: Reply<T>;
  try {
    answer = await call;
  } catch (err) {
    throw new ApiFailure(0, `the API could not be reached (${String(err)})`);
  }
  if (answer.data !== undefined && answer.response.ok) return answer.data;
  const error = answer.error as { error?: { message?: string } } | string | undefined;
  const message =
    typeof error === "object" && error?.error?.message
      ? error.error.message
      : `${answer.response.status} ${answer.response.statusText}`;
  throw new ApiFailure(answer.response.status, message);
}

/** What a GET of `path` answers with 200. */
export type Answer<P extends keyof paths> = paths[P] extends {
  get: { responses: { 200: { content: { "application/json": infer T } } } };
}
  ? T
  : never;
