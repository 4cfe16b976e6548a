/**
 * The only module that talks to nbtrack's REST API (docs/rest.md).
 *
 * Every request goes through JupyterLab's ServerConnection, so it carries the page's
 * token or cookie and the XSRF header like any other JupyterLab request.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** A metric value as the API sends it: non-finite numbers come as strings. */
export type MetricValue = number | 'NaN' | 'Infinity' | '-Infinity';

/** One run, as `GET runs` and `GET runs/<id>` answer it. */
export interface IRunRecord {
  run_id: string;
  color: string;
  name: string;
  experiment: string;
  status: string;
  start_time: number;
  end_time: number | null;
  duration_s: number;
  parent_run_id: string | null;
  description: string | null;
  params: Record<string, string>;
  metrics: Record<string, MetricValue>;
  tags: Record<string, string>;
  artifacts?: IArtifact[];
}

export interface IArtifact {
  path: string;
  size: number;
  content_type?: string;
}

export interface IExperiment {
  name: string;
  run_count: number;
  running: number;
  last_start_time: number | null;
}

export interface IRunPage {
  runs: IRunRecord[];
  next_page_token: string | null;
}

export interface IHistoryPoint {
  step: number;
  value: MetricValue;
  timestamp: number;
}

export interface IHistory {
  run_id: string;
  key: string;
  total_points: number;
  downsampled: boolean;
  points: IHistoryPoint[];
}

export interface IRunQuery {
  filter?: string;
  orderBy?: string[];
  experiments?: string[];
  maxResults?: number;
  pageToken?: string | null;
}

/** A registered model, as `GET models` and `GET models/<name>` answer it. */
export interface IRegisteredModel {
  name: string;
  description: string | null;
  creation_time: number;
  last_updated_time: number;
  latest_version: number | null;
  aliases: Record<string, number>;
  tags: Record<string, string>;
  versions?: IModelVersion[];
}

/** The run a model version came from (null when the run is deleted). */
export interface IVersionRun {
  run_id: string;
  name: string;
  experiment: string;
  status: string;
  color: string;
}

/** One version of a registered model (`GET models/<name>/versions`). */
export interface IModelVersion {
  name: string;
  version: number;
  run_id: string;
  run: IVersionRun | null;
  model_name: string;
  source: string;
  model_uri: string;
  flavor: string | null;
  format: string | null;
  size: number | null;
  sha256: string | null;
  description: string | null;
  creation_time: number;
  last_updated_time: number;
  aliases: string[];
  tags: Record<string, string>;
}

export interface IModelPage {
  models: IRegisteredModel[];
  next_page_token: string | null;
}

export interface IModelQuery {
  filter?: string;
  orderBy?: string[];
  maxResults?: number;
  pageToken?: string | null;
}

/** A refused request: the API's error type, its message and (for filters) the position. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly position: number | null = null
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The answer of a conditional `GET runs`: the page, or `null` when unchanged (304). */
export interface IConditionalPage {
  page: IRunPage | null;
  etag: string | null;
}

/** Build the query string of `GET runs` (repeated keys for lists). */
export function runsQuery(query: IRunQuery): string {
  const parts: string[] = [];
  const add = (key: string, value: string) =>
    parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(value)}`);
  if (query.filter) {
    add('filter', query.filter);
  }
  for (const item of query.orderBy ?? []) {
    add('order_by', item);
  }
  for (const name of query.experiments ?? []) {
    add('experiment', name);
  }
  if (query.maxResults !== undefined) {
    add('max_results', String(query.maxResults));
  }
  if (query.pageToken) {
    add('page_token', query.pageToken);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

/** Build the query string of `GET models`. */
export function modelsQuery(query: IModelQuery): string {
  return runsQuery({ ...query, experiments: [] });
}

/** Path of a run's sub-resource with each segment of a key or artifact path escaped. */
export function escapePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

/** The header that picks one of the server's configured stores (the "store" setting). */
export const STORE_HEADER = 'X-Nbtrack-Store';

/** Headers of a request: the chosen store (when one is set) over the caller's own. */
export function requestHeaders(store: string, headers: HeadersInit | undefined): Headers {
  const out = new Headers(headers);
  if (store.trim()) {
    out.set(STORE_HEADER, store.trim());
  }
  return out;
}

export class NbtrackApi {
  /** The store the requests ask for; empty for the server's default store. */
  store = '';

  constructor(readonly settings: ServerConnection.ISettings = ServerConnection.makeSettings()) {}

  url(path: string): string {
    return URLExt.join(this.settings.baseUrl, 'nbtrack', 'api', path);
  }

  private async send(path: string, init: RequestInit = {}): Promise<Response> {
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(
        this.url(path),
        { cache: 'no-store', ...init, headers: requestHeaders(this.store, init.headers) },
        this.settings
      );
    } catch (error) {
      throw new ApiError(0, 'NetworkError', String(error));
    }
    if (!response.ok && response.status !== 304) {
      let body: any = {};
      try {
        body = await response.json();
      } catch {
        body = { message: response.statusText };
      }
      throw new ApiError(
        response.status,
        body.error ?? 'HTTPError',
        body.message ?? `HTTP ${response.status}`,
        typeof body.position === 'number' ? body.position : null
      );
    }
    return response;
  }

  private async json<T>(path: string, init: RequestInit = {}): Promise<T> {
    const response = await this.send(path, init);
    return (await response.json()) as T;
  }

  async experiments(): Promise<IExperiment[]> {
    return (await this.json<{ experiments: IExperiment[] }>('experiments')).experiments;
  }

  async runs(query: IRunQuery): Promise<IRunPage> {
    return this.json<IRunPage>('runs' + runsQuery(query));
  }

  /** `GET runs` with `If-None-Match`: `page` is null when nothing changed. */
  async runsIfChanged(query: IRunQuery, etag: string | null): Promise<IConditionalPage> {
    const headers: Record<string, string> = {};
    if (etag) {
      headers['If-None-Match'] = etag;
    }
    const response = await this.send('runs' + runsQuery(query), { headers });
    if (response.status === 304) {
      return { page: null, etag };
    }
    return {
      page: (await response.json()) as IRunPage,
      etag: response.headers.get('ETag')
    };
  }

  async run(runId: string): Promise<IRunRecord> {
    return this.json<IRunRecord>(`runs/${encodeURIComponent(runId)}`);
  }

  async history(runId: string, key: string, maxPoints = 500): Promise<IHistory> {
    return this.json<IHistory>(
      `runs/${encodeURIComponent(runId)}/metrics/${escapePath(key)}?max_points=${maxPoints}`
    );
  }

  async artifacts(runId: string): Promise<IArtifact[]> {
    const body = await this.json<{ artifacts: IArtifact[] }>(
      `runs/${encodeURIComponent(runId)}/artifacts`
    );
    return body.artifacts;
  }

  async artifact(runId: string, path: string): Promise<Blob> {
    const response = await this.send(
      `runs/${encodeURIComponent(runId)}/artifacts/${escapePath(path)}`
    );
    return response.blob();
  }

  async patchRun(
    runId: string,
    body: { name?: string; tags?: Record<string, string | null> }
  ): Promise<IRunRecord> {
    return this.json<IRunRecord>(`runs/${encodeURIComponent(runId)}`, {
      method: 'PATCH',
      body: JSON.stringify(body)
    });
  }

  async deleteRun(runId: string): Promise<void> {
    await this.send(`runs/${encodeURIComponent(runId)}`, { method: 'DELETE' });
  }

  async restoreRun(runId: string): Promise<IRunRecord> {
    return this.json<IRunRecord>(`runs/${encodeURIComponent(runId)}/restore`, {
      method: 'POST',
      body: '{}'
    });
  }

  /** `GET models` with `If-None-Match`: `page` is null when nothing changed. */
  async modelsIfChanged(
    query: IModelQuery,
    etag: string | null
  ): Promise<{ page: IModelPage | null; etag: string | null }> {
    const headers: Record<string, string> = {};
    if (etag) {
      headers['If-None-Match'] = etag;
    }
    const response = await this.send('models' + modelsQuery(query), { headers });
    if (response.status === 304) {
      return { page: null, etag };
    }
    return {
      page: (await response.json()) as IModelPage,
      etag: response.headers.get('ETag')
    };
  }

  async model(name: string): Promise<IRegisteredModel> {
    return this.json<IRegisteredModel>(`models/${encodeURIComponent(name)}`);
  }
}
