// @vitest-environment happy-dom
import { act, cleanup, render, renderHook, screen, waitFor } from '@testing-library/react'
import { createElement } from 'react'
import { afterEach, expect, test, vi } from 'vitest'
import {
  type EventSourceStatus,
  type ParsedEvent,
  type UseEventSourceOptions,
  useEventSource,
} from '../src/index'
import { openStream, startServer, type TestServer, until } from './helpers'

// Real servers, and happy-dom's own fetch: the page is on another origin, so
// requests go through CORS (preflights included) as in a browser.

const servers: TestServer[] = []
afterEach(async () => {
  cleanup()
  for (const server of servers.splice(0)) await server.close()
})

async function serve(handler: Parameters<typeof startServer>[0]): Promise<TestServer> {
  const server = await startServer(handler)
  servers.push(server)
  return server
}

function Feed(props: { url: string | null; options?: UseEventSourceOptions }) {
  const { status, lastEvent, error } = useEventSource(props.url, props.options)
  return createElement(
    'p',
    { 'data-testid': 'feed' },
    `${status} ${lastEvent?.type ?? '-'} ${lastEvent?.data ?? '-'} ${error?.status ?? '-'}`,
  )
}

const text = () => screen.getByTestId('feed').textContent

test('renders the last event', async () => {
  const server = await serve(({ res }) => openStream(res, 'retry: 10000\ndata: first\n\n'))
  render(createElement(Feed, { url: `${server.url}/feed` }))
  expect(text()).toBe('connecting - - -')
  await waitFor(() => expect(text()).toBe('open message first -'))
  server.requests[0]!.res.write('data: second\n\n')
  await waitFor(() => expect(text()).toBe('open message second -'))
})

test('status goes connecting → open → connecting → open when the server drops; 401 → closed with the error', async () => {
  const server = await serve(({ res, url }) => {
    if (url === '/denied') {
      res.writeHead(401).end()
      return
    }
    openStream(res, 'retry: 50\ndata: hi\n\n')
  })
  const statuses: EventSourceStatus[] = []
  const { result } = renderHook(() => {
    const value = useEventSource(`${server.url}/feed`)
    if (statuses.at(-1) !== value.status) statuses.push(value.status)
    return value
  })
  await waitFor(() => expect(result.current.status).toBe('open'))
  act(() => server.requests[0]!.res.end())
  await waitFor(() => expect(server.requests).toHaveLength(2))
  await waitFor(() => expect(result.current.status).toBe('open'))
  expect(statuses).toEqual(['connecting', 'open', 'connecting', 'open'])
  expect(server.requests[1]!.headers['last-event-id']).toBeUndefined()

  const denied = renderHook(() => useEventSource(`${server.url}/denied`, { retry: 10 }))
  await waitFor(() => expect(denied.result.current.status).toBe('closed'))
  expect(denied.result.current.error).toMatchObject({ code: 'SSE_INVALID_RESPONSE', status: 401 })
  expect(server.requests.filter((r) => r.url === '/denied')).toHaveLength(1)
})

test('closes on unmount: the server sees the disconnect', async () => {
  const server = await serve(({ res }) => openStream(res, 'data: hi\n\n'))
  const { result, unmount } = renderHook(() => useEventSource(server.url))
  await waitFor(() => expect(result.current.lastEvent?.data).toBe('hi'))
  unmount()
  await until(() => server.requests[0]!.closed)
  expect(server.requests).toHaveLength(1)
})

test('reconnects when the URL changes, closing the old stream', async () => {
  const server = await serve(({ res, url }) => openStream(res, `data: ${url}\n\n`))
  const { result, rerender } = renderHook(({ url }) => useEventSource(url), {
    initialProps: { url: `${server.url}/a` as string | null },
  })
  await waitFor(() => expect(result.current.lastEvent?.data).toBe('/a'))
  rerender({ url: `${server.url}/b` })
  // The old stream's last event is not shown for the new URL.
  expect(result.current.lastEvent).toBeNull()
  await waitFor(() => expect(result.current.lastEvent?.data).toBe('/b'))
  await until(() => server.requests[0]!.closed)
  expect(server.requests.map((r) => r.url)).toEqual(['/a', '/b'])

  rerender({ url: null })
  expect(result.current.status).toBe('closed')
  await until(() => server.requests[1]!.closed)
  expect(server.requests).toHaveLength(2)
})

test('inline options and callbacks do not reconnect; deps do', async () => {
  const server = await serve(({ res }) => openStream(res, 'data: hi\n\n'))
  const seen: string[] = []
  const { result, rerender } = renderHook(
    ({ label, token }) =>
      useEventSource(server.url, {
        headers: { authorization: token },
        onEvent: (event) => seen.push(`${label}:${event.data}`),
        events: ['tick'],
        deps: [token],
      }),
    { initialProps: { label: 'one', token: 't1' } },
  )
  await waitFor(() => expect(seen).toEqual(['one:hi']))
  for (let i = 0; i < 5; i++) rerender({ label: 'two', token: 't1' })
  server.requests[0]!.res.write('event: tick\ndata: 1\n\nevent: other\ndata: 2\n\n')
  await waitFor(() => expect(seen).toEqual(['one:hi', 'two:1']))
  expect(result.current.lastEvent).toMatchObject({ type: 'tick', data: '1' })
  expect(server.requests).toHaveLength(1)

  rerender({ label: 'three', token: 't2' })
  await waitFor(() => expect(server.requests).toHaveLength(2))
  expect(server.requests[1]!.headers.authorization).toBe('t2')
  await until(() => server.requests[0]!.closed)
  await waitFor(() => expect(seen).toContain('three:hi'))
})

test('close() from the hook closes for good; null never connects', async () => {
  const server = await serve(({ res }) => openStream(res, 'retry: 10\ndata: hi\n\n'))
  const onEvent = vi.fn((_event: ParsedEvent) => undefined)
  const { result } = renderHook(() => useEventSource(server.url, { onEvent }))
  await waitFor(() => expect(result.current.status).toBe('open'))
  const { close } = result.current
  act(() => result.current.close())
  await waitFor(() => expect(result.current.status).toBe('closed'))
  expect(result.current.close).toBe(close)
  await until(() => server.requests[0]!.closed)
  await new Promise((resolve) => setTimeout(resolve, 100))
  expect(server.requests).toHaveLength(1)
  expect(onEvent).toHaveBeenCalledTimes(1)

  const idle = renderHook(() => useEventSource(null))
  expect(idle.result.current).toMatchObject({ status: 'closed', readyState: 2, lastEvent: null })
  expect(server.requests).toHaveLength(1)
})

test('an onEvent that throws is reported and the stream stays open', async () => {
  const reported = vi.fn()
  vi.stubGlobal('reportError', reported)
  try {
    const server = await serve(({ res }) => openStream(res, 'data: 1\n\ndata: 2\n\n'))
    const { result } = renderHook(() =>
      useEventSource(server.url, {
        onEvent: () => {
          throw new Error('render bug')
        },
      }),
    )
    await waitFor(() => expect(result.current.lastEvent?.data).toBe('2'))
    expect(reported).toHaveBeenCalledTimes(2)
    expect(result.current.status).toBe('open')
    expect(server.requests[0]!.closed).toBe(false)
  } finally {
    vi.unstubAllGlobals()
  }
})

test("hidden: 'close' (a client option) closes while the page is hidden and resumes with Last-Event-ID", async () => {
  const server = await serve(({ res }) => openStream(res, 'retry: 10000\nid: 7\ndata: first\n\n'))
  render(createElement(Feed, { url: `${server.url}/feed`, options: { hidden: 'close' } }))
  await waitFor(() => expect(text()).toBe('open message first -'))
  const setVisibility = (state: 'hidden' | 'visible') =>
    act(() => {
      Object.defineProperty(document, 'visibilityState', { value: state, configurable: true })
      document.dispatchEvent(new Event('visibilitychange'))
    })
  setVisibility('hidden')
  await waitFor(() => expect(text()).toBe('connecting message first -'))
  await server.requests[0]!.gone
  setVisibility('visible')
  await waitFor(() => expect(server.requests).toHaveLength(2))
  expect(server.requests[1]!.headers['last-event-id']).toBe('7')
  await waitFor(() => expect(text()).toBe('open message first -'))
})

test('shared: where the page has no Web Locks it is a stream of its own, and it streams', async () => {
  expect((navigator as { locks?: unknown }).locks ?? undefined).toBeUndefined()
  const server = await serve(({ res }) => openStream(res, 'retry: 10000\ndata: shared\n\n'))
  render(createElement(Feed, { url: `${server.url}/feed`, options: { shared: true, key: 'k' } }))
  await waitFor(() => expect(text()).toBe('open message shared -'))
  expect(server.requests).toHaveLength(1)
})

test('typed: lastEvent carries the JSON value, narrowed by type', async () => {
  type Events = { price: { usd: number }; message: string }
  const server = await serve(({ res }) =>
    openStream(res, 'retry: 10000\nevent: price\ndata: {"usd":2.5}\n\n'),
  )
  const { result } = renderHook(() =>
    useEventSource<Events>(`${server.url}/feed`, { json: true, events: ['price'] }),
  )
  await waitFor(() => expect(result.current.lastEvent?.type).toBe('price'))
  const event = result.current.lastEvent!
  expect(event.type === 'price' ? event.value.usd : undefined).toBe(2.5)
})
