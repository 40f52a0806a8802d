<?php

declare(strict_types=1);

namespace GatewayClient\ThinkPHP;

use GatewayClient\Gateway;

/**
 * ThinkPHP 6/8 service: applies config/gateway_worker.php to GatewayClient\Gateway when the app
 * boots. ThinkPHP discovers it from the package's composer.json (`extra.think.services`); without
 * discovery, list it in app/service.php. Loaded only inside a ThinkPHP app (it extends think\Service).
 */
class GatewayService extends \think\Service
{
    public function boot(): void
    {
        $config = $this->app->config->get('gateway_worker', []);
        Gateway::config(is_array($config) ? $config : []);
    }
}
