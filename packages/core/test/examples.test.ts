import { readFileSync } from 'node:fs'
import { expect, test } from 'vitest'
import * as quotes from '../examples/quotes'
import { GET, hub, notify, orderShipped } from '../examples/topics'

const url = 'http://localhost/events'

function connect(user: string, lastEventId?: string): { response: Response; abort(): void } {
  const controller = new AbortController()
  const headers: Record<string, string> = { 'x-user-id': user }
  if (lastEventId !== undefined) headers['last-event-id'] = lastEventId
  const response = GET(new Request(url, { headers, signal: controller.signal }))
  return { response, abort: () => controller.abort() }
}

test('the README topics example: private, shared and pattern topics over one connection, resumed with one id', async () => {
  expect(GET(new Request(url)).status).toBe(401)
  const ada = connect('ada')
  const bob = connect('bob')
  const adaBody = ada.response.body!.getReader()
  const bobBody = bob.response.body!.getReader()
  const decoder = new TextDecoder()
  let adaText = ''
  let bobText = ''
  const pump = async (r: ReadableStreamDefaultReader<Uint8Array>, add: (t: string) => void) => {
    for (;;) {
      const { done, value } = await r.read().catch(() => ({ done: true, value: undefined }))
      if (done) return
      add(decoder.decode(value))
    }
  }
  void pump(adaBody, (t) => (adaText += t))
  void pump(bobBody, (t) => (bobText += t))
  await expect.poll(() => hub.size).toBe(2)
  await notify('ada', 'for ada')
  await orderShipped('7', 'bob')
  await hub.publish('rooms/lobby', 'hello lobby')
  await expect
    .poll(() => adaText.includes('hello lobby') && bobText.includes('hello lobby'))
    .toBe(true)
  const dataOf = (text: string) => [...text.matchAll(/^data: (.*)$/gm)].map((m) => m[1])
  expect(dataOf(adaText)).toEqual(['{"text":"for ada"}', '{"orderId":"7"}', 'hello lobby'])
  expect(dataOf(bobText)).toEqual(['{"orderId":"7"}', 'hello lobby'])

  // Ada drops; what is published meanwhile arrives on her reconnect, once.
  const lastId = [...adaText.matchAll(/^id: (.*)$/gm)].at(-1)![1]!
  ada.abort()
  await expect.poll(() => hub.size).toBe(1)
  await notify('ada', 'while away')
  await notify('bob', 'not for ada')
  const again = connect('ada', lastId)
  let againText = ''
  void pump(again.response.body!.getReader(), (t) => (againText += t))
  await expect.poll(() => againText.includes('while away')).toBe(true)
  await hub.publish('rooms/lobby', 'live again')
  await expect.poll(() => againText.includes('live again')).toBe(true)
  expect(dataOf(againText)).toEqual(['{"text":"while away"}', 'live again'])
  again.abort()
  bob.abort()
  await expect.poll(() => hub.size).toBe(0)
})

test('the README shows the example file as it is', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
  const source = readFileSync(new URL('../examples/topics.ts', import.meta.url), 'utf8')
  expect(readme).toContain(source.trim())
})

test('the README shows the readEvents testing example as it is', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
  const source = readFileSync(
    new URL('../../express/test/readme-testing.test.ts', import.meta.url),
    'utf8',
  )
  expect(readme).toContain(source.trim())
})

test('the README quotes example: a client that stops reading gets the newest quote of every symbol', async () => {
  const controller = new AbortController()
  const response = quotes.GET(new Request('http://localhost/quotes', { signal: controller.signal }))
  await expect.poll(() => quotes.hub.size).toBe(1)
  // Nobody reads the body: past its 64 kB buffer, quotes queue and conflate.
  const symbols = ['ACME', 'GLOBEX', 'INITECH']
  for (let i = 0; i < 3000; i++) await quotes.quote(symbols[i % 3]!, i)
  const reader = response.body!.getReader()
  const decoder = new TextDecoder()
  let text = ''
  while (!text.includes('"price":2999')) {
    const { value } = await reader.read()
    text += decoder.decode(value, { stream: true })
  }
  const prices = [...text.matchAll(/"price":(\d+)/g)].map((m) => Number(m[1]))
  expect(prices.length).toBeLessThan(3000)
  expect(prices.slice(-3)).toEqual([2997, 2998, 2999])
  expect(prices).toEqual([...prices].sort((a, b) => a - b))
  controller.abort()
  await expect.poll(() => quotes.hub.size).toBe(0)
})
