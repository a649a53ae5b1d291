import { Module } from '@nestjs/common';
import { HttpJwtGuard } from './http-jwt.guard.js';
import { TokenService } from './token.service.js';

@Module({
  providers: [TokenService, HttpJwtGuard],
  exports: [TokenService, HttpJwtGuard],
})
export class AuthModule {}
