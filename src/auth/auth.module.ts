import { Module } from '@nestjs/common';
import { JwtModule } from '@nestjs/jwt';
import { HttpJwtGuard } from './http-jwt.guard.js';
import { TokenService } from './token.service.js';
import { WsJwtGuard } from './ws-jwt.guard.js';
import { WsSessions } from './ws-sessions.js';

@Module({
  imports: [JwtModule.register({})],
  providers: [TokenService, HttpJwtGuard, WsJwtGuard, WsSessions],
  exports: [TokenService, HttpJwtGuard, WsJwtGuard, WsSessions],
})
export class AuthModule {}
