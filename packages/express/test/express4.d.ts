// `express4` is an npm alias of express@4 for the contract suite; its API
// shape matches what the tests use from express 5's types.
declare module 'express4' {
  import express from 'express'
  export default express
}
