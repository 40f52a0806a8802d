<?php

declare(strict_types=1);

namespace GatewayClient\Laravel;

use Illuminate\Broadcasting\BroadcastManager;
use Illuminate\Support\ServiceProvider;

/**
 * Registers the `gateway` broadcaster (auto-discovered through composer.json's extra.laravel). With
 * BROADCAST_DRIVER=gateway (Laravel 8-10) or BROADCAST_CONNECTION=gateway (11+) and no `gateway`
 * connection in config/broadcasting.php, the connection `['driver' => 'gateway']` is assumed.
 */
final class GatewayServiceProvider extends ServiceProvider
{
    public function register(): void
    {
        $config = $this->app->make('config');
        if ($config->get('broadcasting.connections.gateway') === null) {
            $config->set('broadcasting.connections.gateway', ['driver' => 'gateway']);
        }
    }

    public function boot(): void
    {
        $this->callAfterResolving(BroadcastManager::class, static function (BroadcastManager $manager): void {
            $manager->extend('gateway', static fn ($app, array $config) => new GatewayBroadcaster(ConnectionConfig::client($config), ConnectionConfig::requiresBindToken($config)));
        });
    }
}
