<?php
// The few framework classes GatewayClient's ThinkPHP and webman glue touches, as those frameworks
// define them (neither can be installed here): ThinkPHP 6/8's Facade (__callStatic resolves
// getFacadeClass() through the container and calls the method on that instance), Service (holds the
// App) and App's config repository; webman's Bootstrap interface and config() helper. Plus
// Composer's PSR-4 autoloading of clients/php, read from its composer.json.
declare(strict_types=1);

namespace think {
    class Container
    {
        private static ?Container $instance = null;
        /** @var array<string, object> */
        private array $instances = [];

        public static function getInstance(): static
        {
            return self::$instance ??= new static();
        }

        public function make(string $class, array $args = [], bool $newInstance = false): object
        {
            if ($newInstance) {
                return new $class(...$args);
            }
            return $this->instances[$class] ??= new $class(...$args);
        }
    }

    class Facade
    {
        protected static $alwaysNewInstance;

        protected static function getFacadeClass()
        {
        }

        protected static function createFacade(string $class = '', array $args = [], bool $newInstance = false)
        {
            $class = static::getFacadeClass() ?: ($class ?: static::class);
            return Container::getInstance()->make($class, $args, $newInstance || static::$alwaysNewInstance);
        }

        public static function __callStatic($method, $params)
        {
            return call_user_func_array([static::createFacade(), $method], $params);
        }
    }

    class Config
    {
        public function __construct(private array $items)
        {
        }

        public function get(?string $name = null, $default = null)
        {
            return $name === null ? $this->items : ($this->items[$name] ?? $default);
        }
    }

    class App extends Container
    {
        public Config $config;

        public function __construct(array $config = [])
        {
            $this->config = new Config($config);
        }
    }

    abstract class Service
    {
        public function __construct(protected App $app)
        {
        }
    }
}

namespace Webman {
    interface Bootstrap
    {
        public static function start($worker);
    }
}

namespace {
    /** webman's config('file.key', $default), over $GLOBALS['webman_config'] (file name => the array it returns). */
    function config(?string $key = null, $default = null)
    {
        $value = $GLOBALS['webman_config'] ?? [];
        foreach ($key === null ? [] : explode('.', $key) as $part) {
            if (!is_array($value) || !array_key_exists($part, $value)) {
                return $default;
            }
            $value = $value[$part];
        }
        return $value;
    }

    // Composer's PSR-4 autoloader for clients/php, from its composer.json.
    $gatewayClientRoot = __DIR__ . '/../../../clients/php/';
    foreach (json_decode((string) file_get_contents($gatewayClientRoot . 'composer.json'), true)['autoload']['psr-4'] as $prefix => $dirs) {
        foreach ((array) $dirs as $dir) {
            spl_autoload_register(static function (string $class) use ($prefix, $dir, $gatewayClientRoot): void {
                $file = $gatewayClientRoot . $dir . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
                if (str_starts_with($class, $prefix) && is_file($file)) {
                    require $file;
                }
            });
        }
    }
}
