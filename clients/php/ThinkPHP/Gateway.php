<?php

declare(strict_types=1);

namespace GatewayClient\ThinkPHP;

/**
 * ThinkPHP facade over GatewayClient\Gateway: `use GatewayClient\ThinkPHP\Gateway;` then
 * `Gateway::sendToUid($uid, $message)`, resolved through ThinkPHP's container (so a test can bind a
 * stand-in). Loaded only inside a ThinkPHP app (it extends think\Facade).
 */
class Gateway extends \think\Facade
{
    protected static function getFacadeClass()
    {
        return \GatewayClient\Gateway::class;
    }
}
