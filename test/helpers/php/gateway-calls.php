<?php
// Test driver: runs GatewayClient\Gateway calls given as JSON on stdin and prints what each returned
// or threw, as JSON (with var_export of the value, for PHP's own types and keys) on stdout.
//   {"statics": {"registerAddress": "..."}, "calls": [["isOnline", "<id>"], ...]}
// An argument {"$binary": "<base64>"} is passed as those raw bytes.
declare(strict_types=1);

require __DIR__ . '/../../../clients/php/Gateway.php';

use GatewayClient\Gateway;
use GatewayClient\GatewayException;

$notices = [];
set_error_handler(static function (int $level, string $message) use (&$notices): bool {
    $notices[] = ['level' => $level, 'message' => $message];
    return true;
});

$input = json_decode((string) stream_get_contents(STDIN), true, 512, JSON_THROW_ON_ERROR);
foreach ($input['statics'] ?? [] as $name => $value) {
    Gateway::${$name} = $value;
}
$decode = static function ($value) use (&$decode) {
    if (is_array($value) && array_keys($value) === ['$binary']) {
        return base64_decode($value['$binary']);
    }
    return is_array($value) ? array_map($decode, $value) : $value;
};
$out = [];
foreach ($input['calls'] as $call) {
    $method = array_shift($call);
    $notices = [];
    try {
        $value = Gateway::$method(...array_map($decode, $call));
        $out[] = ['ok' => true, 'value' => $value, 'export' => var_export($value, true), 'notices' => $notices];
    } catch (GatewayException $e) {
        $out[] = ['ok' => false, 'class' => $e::class, 'errorCode' => $e->getErrorCode(), 'message' => $e->getMessage(), 'details' => $e->getDetails(), 'index' => $e->getIndex(), 'results' => $e->getResults(), 'notices' => $notices];
    } catch (\Throwable $e) {
        $out[] = ['ok' => false, 'class' => $e::class, 'message' => $e->getMessage(), 'notices' => $notices];
    }
}
echo json_encode($out, JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE | JSON_PRESERVE_ZERO_FRACTION), "\n";
