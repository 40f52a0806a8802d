<?php

declare(strict_types=1);

namespace GatewayClient\Webman;

use GatewayClient\Gateway;

/**
 * webman bootstrap (list it in config/bootstrap.php): applies config/gateway_worker.php to
 * GatewayClient\Gateway in every worker process, and, when GatewayWorker itself is not installed
 * (the app no longer runs it), lets `GatewayWorker\Lib\Gateway` (what webman's gateway-worker plugin
 * has controllers use) name GatewayClient\Gateway. Loaded only inside webman (it implements
 * Webman\Bootstrap).
 */
class GatewayBootstrap implements \Webman\Bootstrap
{
    public static function start($worker)
    {
        $config = config('gateway_worker', []);
        Gateway::config(is_array($config) ? $config : []);
        if (!class_exists('GatewayWorker\Lib\Gateway')) {
            class_alias(Gateway::class, 'GatewayWorker\Lib\Gateway');
        }
    }
}
