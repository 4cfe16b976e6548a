import { describe, expect, it } from 'vitest';

import { STORE_HEADER, escapePath, requestHeaders, runsQuery } from './request';

describe('runs query string', () => {
  it('encodes the filter and repeats list arguments', () => {
    expect(
      runsQuery({
        filter: "metrics.loss < 0.5 AND tags.team = 'a&b'",
        orderBy: ['metrics.loss ASC', 'attributes.start_time DESC'],
        experiments: ['x y', 'z'],
        maxResults: 50,
        pageToken: 'abc='
      })
    ).toBe(
      "?filter=metrics.loss%20%3C%200.5%20AND%20tags.team%20%3D%20'a%26b'" +
        '&order_by=metrics.loss%20ASC&order_by=attributes.start_time%20DESC' +
        '&experiment=x%20y&experiment=z&max_results=50&page_token=abc%3D'
    );
  });

  it('is empty without arguments', () => {
    expect(runsQuery({})).toBe('');
  });

  it('escapes each segment of a metric key or artifact path but keeps the slashes', () => {
    expect(escapePath('val/loss %')).toBe('val/loss%20%25');
    expect(escapePath('../x')).toBe('../x'); // the server refuses it (400)
  });
});

import { ServerConnection } from '@jupyterlab/services';

import { ApiError, NbtrackApi } from './request';

interface ICall {
  url: string;
  method: string;
  headers: Headers;
  body: string;
}

function fakeServer(answer: (call: ICall) => Response) {
  const calls: ICall[] = [];
  const fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = input instanceof Request ? input : new Request(input, init);
    const call = {
      // ServerConnection adds a cache-busting number to uncached GETs: not ours to check
      url: request.url.replace(/[?&]\d+$/, ''),
      method: request.method,
      headers: request.headers,
      body: await request.text()
    };
    calls.push(call);
    return answer(call);
  };
  const settings = ServerConnection.makeSettings({
    baseUrl: 'http://127.0.0.1:8888/base/',
    token: 'secret',
    fetch: fetch as any
  });
  return { api: new NbtrackApi(settings), calls };
}

describe('NbtrackApi', () => {
  it('calls the API under <base_url>/nbtrack/api with the token', async () => {
    const { api, calls } = fakeServer(
      () => new Response(JSON.stringify({ runs: [], next_page_token: null }), { status: 200 })
    );
    const page = await api.runs({ filter: 'metrics.loss < 1', maxResults: 10 });
    expect(page.runs).toEqual([]);
    expect(calls[0].url).toBe(
      'http://127.0.0.1:8888/base/nbtrack/api/runs?filter=metrics.loss%20%3C%201&max_results=10'
    );
    expect(calls[0].headers.get('Authorization')).toBe('token secret');
  });

  it('turns an error body into an ApiError with the type, message and position', async () => {
    const { api } = fakeServer(
      () =>
        new Response(
          JSON.stringify({
            error: 'FilterError',
            message: 'expected a value at position 14',
            position: 14
          }),
          { status: 400 }
        )
    );
    const error = await api.runs({ filter: 'metrics.loss >' }).catch(e => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(400);
    expect(error.type).toBe('FilterError');
    expect(error.position).toBe(14);
    expect(error.message).toBe('expected a value at position 14');
  });

  it('sends If-None-Match and reports an unchanged list as null', async () => {
    const { api, calls } = fakeServer(call => {
      const etag = call.headers.get('If-None-Match');
      return etag === '"v1"'
        ? new Response(null, { status: 304 })
        : new Response(JSON.stringify({ runs: [], next_page_token: null }), {
            status: 200,
            headers: { ETag: '"v1"' }
          });
    });
    const first = await api.runsIfChanged({}, null);
    expect(first.page).not.toBeNull();
    expect(first.etag).toBe('"v1"');
    const second = await api.runsIfChanged({}, first.etag);
    expect(second.page).toBeNull();
    expect(calls.length).toBe(2);
  });

  it('patches tags with a JSON body and escapes metric keys by segment', async () => {
    const { api, calls } = fakeServer(() => new Response('{}', { status: 200 }));
    await api.patchRun('abc', { tags: { stage: 'prod', old: null } });
    expect(calls[0].method).toBe('PATCH');
    expect(JSON.parse(calls[0].body)).toEqual({ tags: { stage: 'prod', old: null } });
    await api.history('abc', 'val/loss rate', 100);
    expect(calls[1].url).toBe(
      'http://127.0.0.1:8888/base/nbtrack/api/runs/abc/metrics/val/loss%20rate?max_points=100'
    );
  });
});

describe('registry requests', () => {
  it('asks GET models with filter, order and page size, and polls it with the ETag', async () => {
    const { api, calls } = fakeServer(call =>
      call.headers.get('If-None-Match') === '"m1"'
        ? new Response(null, { status: 304 })
        : new Response(JSON.stringify({ models: [], next_page_token: null }), {
            status: 200,
            headers: { ETag: '"m1"' }
          })
    );
    const first = await api.modelsIfChanged(
      { filter: "name LIKE 'churn%'", orderBy: ['name DESC'], maxResults: 200 },
      null
    );
    expect(first).toEqual({ page: { models: [], next_page_token: null }, etag: '"m1"' });
    expect(calls[0].url).toBe(
      'http://127.0.0.1:8888/base/nbtrack/api/models?filter=name%20LIKE%20%27churn%25%27' +
        '&order_by=name%20DESC&max_results=200'
    );
    const second = await api.modelsIfChanged({ maxResults: 200 }, first.etag);
    expect(second.page).toBeNull();
  });

  it('escapes a model name in GET models/<name>', async () => {
    const { api, calls } = fakeServer(() => new Response('{"name": "churn model"}'));
    expect((await api.model('churn model')).name).toBe('churn model');
    expect(calls[0].url).toBe('http://127.0.0.1:8888/base/nbtrack/api/models/churn%20model');
  });

  it('reports an unknown model as a 404 ApiError with the server message', async () => {
    const { api } = fakeServer(
      () =>
        new Response(
          JSON.stringify({ error: 'ModelNotFoundError', message: "no registered model 'x'" }),
          { status: 404 }
        )
    );
    const error = await api.model('x').catch(e => e);
    expect(error).toBeInstanceOf(ApiError);
    expect([error.status, error.type, error.message]).toEqual([
      404,
      'ModelNotFoundError',
      "no registered model 'x'"
    ]);
  });
});

describe('requestHeaders', () => {
  it('adds the chosen store and keeps the caller headers', () => {
    const h = requestHeaders(' /data/team ', { 'If-None-Match': '"abc"' });
    expect(h.get(STORE_HEADER)).toBe('/data/team');
    expect(h.get('If-None-Match')).toBe('"abc"');
  });

  it('sends no store header for the default store', () => {
    expect(requestHeaders('', undefined).has(STORE_HEADER)).toBe(false);
    expect(requestHeaders('   ', { a: 'b' }).has(STORE_HEADER)).toBe(false);
  });
});
