import { describe, expect, it } from 'vitest';

import { escapePath, runsQuery } from './request';

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
      '?filter=metrics.loss%20%3C%200.5%20AND%20tags.team%20%3D%20\'a%26b\'' +
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
