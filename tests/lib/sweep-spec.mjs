// tests/lib/sweep-spec.mjs — the sweep spec the server and browser sweep tests
// run (tests/integration/sweeps.test.mjs, tests/e2e/sweep.mjs): a small
// synthetic problem, an MLP, SGD over `lrs` (good ones first, so ASHA, which
// keeps the best at each rung, stops the bad ones that come later), optionally
// crossed with train.seed. No dependencies, so either suite can run alone.

export function sweepSpec({ lrs, seeds = 0, trainSize = 512, epochs = 4, parallel = 2 }) {
	return `data: {dataset: synthetic, shape: [16], classes: 4, train_size: ${trainSize}, test_size: 128, validation: 0.25, workers: 1}
model: {preset: mlp, hidden: [32]}
optimizer: {name: sgd, lr: 0.1}
train: {epochs: ${epochs}, seed: 0, device: cpu}
sweep:
  method: grid
  parallel: ${parallel}
  params:
    optimizer.lr: {choice: [${lrs.join(', ')}]}
${seeds ? `    train.seed: {range: [0, ${seeds}]}\n` : ''}  stop: {asha: {metric: validation.accuracy, min_epochs: 1, reduction: 3}}
`;
}
