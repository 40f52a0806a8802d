<?php
// Test driver: signs each request given as JSON on stdin with clients/php/SigV4Signer.php and prints
// the Authorization values as a JSON list.
//   [{"region", "service", "method", "path", "query": {...}, "headers": {...}, "body", "credentials": {...}}, ...]
declare(strict_types=1);

require __DIR__ . '/../../../clients/php/SigV4Signer.php';

use GatewayClient\SigV4Signer;

$requests = json_decode((string) stream_get_contents(STDIN), true, 512, JSON_THROW_ON_ERROR);
$out = [];
foreach ($requests as $r) {
    $signer = new SigV4Signer($r['region'], $r['service']);
    $out[] = $signer->authorization($r['method'], $r['path'], $r['query'] ?? [], $r['headers'], hash('sha256', $r['body'] ?? ''), $r['credentials']);
}
echo json_encode($out), "\n";
