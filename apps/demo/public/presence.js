// The connection count. Every instance publishes its own on `presence`; the
// page adds up the instances it heard from lately, so one that stopped
// without a word drops out of the total.

const $ = (id) => document.getElementById(id)
// As the server's PRESENCE_TTL (src/recent.ts).
const PRESENCE_TTL = 30_000

/** Each instance's latest count, with when this page heard it. */
const counts = new Map()

/** Takes one instance's `{ instance, tabs }` and shows the total. */
export function setPresence(count) {
  counts.set(count.instance, { tabs: count.tabs, heard: Date.now() })
  render()
}

function render() {
  const since = Date.now() - PRESENCE_TTL
  let total = 0
  const parts = []
  for (const [instance, { tabs, heard }] of counts) {
    if (heard < since) counts.delete(instance)
    else {
      total += tabs
      parts.push(`${tabs} on ${instance}`)
    }
  }
  $('clients').textContent = String(total)
  $('clients-badge').title = parts.join(' · ')
}

setInterval(render, 5000)
