<?php
// Part of bench/gatewayApi.ts: times binds from PHP's GatewayClient in one php-cli process, as
// bind.php does them (two calls) and in one Gateway::batch, interleaved, on the fresh client ids in
// BENCH_IDS. Prints {"php-two": [ms, ...], "php-batch": [ms, ...]} without the first $argv[1] of each.
declare(strict_types=1);

require __DIR__ . '/../clients/php/Gateway.php';

use GatewayClient\Gateway;

$ids = explode(',', (string) getenv('BENCH_IDS'));
$warmup = (int) ($argv[1] ?? 0);
$samples = ['php-two' => [], 'php-batch' => []];
for ($i = 0; 2 * $i + 1 < count($ids); $i++) {
    $start = hrtime(true);
    Gateway::bindUid($ids[2 * $i], "php-u-{$i}");
    Gateway::joinGroup($ids[2 * $i], 'php-g-' . ($i % 10));
    $two = (hrtime(true) - $start) / 1e6;
    $start = hrtime(true);
    Gateway::batch([['bindUid', $ids[2 * $i + 1], "php-v-{$i}"], ['joinGroup', $ids[2 * $i + 1], 'php-g-' . ($i % 10)]]);
    $batch = (hrtime(true) - $start) / 1e6;
    if ($i >= $warmup) {
        $samples['php-two'][] = $two;
        $samples['php-batch'][] = $batch;
    }
}
echo json_encode($samples), "\n";
