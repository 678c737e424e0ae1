// The live chart: an SVG line over the last points, replayed points marked,
// and a dashed line where a reconnect resumed.

/** Draws `points` (at most `capacity`, newest right) into `svg`. */
export function renderChart(svg, points, capacity) {
  const width = svg.clientWidth || 720
  const height = svg.clientHeight || 280
  const pad = { left: 44, right: 16, top: 14, bottom: 14 }
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`)
  if (points.length === 0) return

  let min = Number.POSITIVE_INFINITY
  let max = Number.NEGATIVE_INFINITY
  for (const { value } of points) {
    min = Math.min(min, value)
    max = Math.max(max, value)
  }
  const span = Math.max(max - min, 2)
  min -= span * 0.15
  max += span * 0.15
  const plotW = width - pad.left - pad.right
  const plotH = height - pad.top - pad.bottom
  const step = plotW / (capacity - 1)
  const offset = capacity - points.length
  const x = (i) => pad.left + (offset + i) * step
  const y = (v) => pad.top + (1 - (v - min) / (max - min)) * plotH

  let grid = ''
  for (let i = 0; i <= 4; i++) {
    const value = min + ((max - min) * i) / 4
    const gy = y(value).toFixed(1)
    grid += `<line class="grid-line" x1="${pad.left}" x2="${width - pad.right}" y1="${gy}" y2="${gy}"/>`
    grid += `<text class="axis" x="${pad.left - 8}" y="${gy}" dy="4" text-anchor="end">${value.toFixed(1)}</text>`
  }
  let line = ''
  let dots = ''
  let marks = ''
  points.forEach((point, i) => {
    const px = x(i).toFixed(1)
    const py = y(point.value).toFixed(1)
    line += `${i === 0 ? 'M' : 'L'}${px},${py}`
    if (point.replayed) dots += `<circle class="replayed" cx="${px}" cy="${py}" r="3"/>`
    if (point.mark) {
      marks += `<line class="resume-mark" x1="${px}" x2="${px}" y1="${pad.top}" y2="${height - pad.bottom}"/>`
      marks += `<text class="resume-label" x="${Number(px) + 5}" y="${pad.top + 10}">resumed</text>`
    }
  })
  const lastX = x(points.length - 1).toFixed(1)
  const lastY = y(points.at(-1).value).toFixed(1)
  const area = `${line}L${lastX},${height - pad.bottom}L${x(0).toFixed(1)},${height - pad.bottom}Z`
  svg.innerHTML = `<defs><linearGradient id="fill" x1="0" x2="0" y1="0" y2="1">
      <stop offset="0%" stop-color="#5eead4" stop-opacity="0.35"/>
      <stop offset="100%" stop-color="#5eead4" stop-opacity="0"/>
    </linearGradient></defs>
    ${grid}${marks}
    <path d="${area}" fill="url(#fill)"/>
    <path class="line" d="${line}"/>
    ${dots}
    <circle class="head-glow" cx="${lastX}" cy="${lastY}" r="9"/>
    <circle class="head" cx="${lastX}" cy="${lastY}" r="4"/>`
}
