/**
 * The client of the send question's socket rows, in its own process so its
 * CPU is not the server's: reads one stream to its end as fast as it can and
 * reports the bytes and the events it parsed (`node send-client.ts <url>`).
 */
import { get } from 'node:http'
import { createParser } from '@sse/core'

get(process.argv[2]!, (res) => {
  let bytes = 0
  let events = 0
  const parser = createParser({ onEvent: () => void events++ })
  res.on('data', (chunk: Buffer) => {
    bytes += chunk.length
    parser.feed(chunk)
  })
  res.on('end', () => process.send!({ bytes, events }, () => process.exit(0)))
}).on('error', (error) => {
  console.error(error)
  process.exit(1)
})
